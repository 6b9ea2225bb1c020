import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import Testing

/// Pad/truncate/normalise behaviour of the AST extractor and its configuration (MODELS.md §A.1).
@Suite struct SpectrogramFeaturesTests {
    @Test("defaults equal transformers' ASTFeatureExtractor: 16 kHz, 128 mel, 1024 frames, AudioSet mean/std")
    func defaults() throws {
        let c = try SpectrogramFeatures.Configuration(preprocessorConfig: JSONParser.parse("{}"))
        #expect(c == SpectrogramFeatures.Configuration())
        #expect(c.samplingRate == 16000 && c.melBins == 128 && c.maxLength == 1024 && c.doNormalize)
        #expect(c.mean == -4.2677393 && c.std == 4.5689974 && c.paddingValue == 0)
        #expect(c.fbankOptions == KaldiFbankOptions())
    }

    @Test("1 s of silence: 98 frames of −1.2775938 then padded rows of +0.46703236 (AudioSet stats)")
    func silenceAndPadding() throws {
        let features = try SpectrogramFeatures().computeMatrix([Float](repeating: 0, count: 16000))
        #expect(features.shape == [1024, 128])
        #expect(features.values[0..<(98 * 128)].allSatisfy { abs($0 - -1.2775938) < 1e-6 })
        #expect(features.values[(98 * 128)...].allSatisfy { abs($0 - 0.46703236) < 1e-6 })
    }

    @Test("long input keeps the first max_length frames")
    func truncation() throws {
        var configuration = SpectrogramFeatures.Configuration()
        configuration.maxLength = 10
        configuration.doNormalize = false
        let extractor = try SpectrogramFeatures(configuration)
        let x = TestSignals.noise(amplitude: 0.2, count: 16000)
        let all = try extractor.fbank.compute(x)
        let kept = try extractor.computeMatrix(x)
        #expect(kept.shape == [10, 128])
        #expect(kept.values == Array(all.values[0..<(10 * 128)]))
    }

    @Test("compute returns the same values flattened row-major")
    func flatCompute() throws {
        let extractor = try SpectrogramFeatures()
        let x = TestSignals.noise(amplitude: 0.2, count: 8000)
        #expect(try extractor.compute(x) == extractor.computeMatrix(x).values)
    }

    @Test("a wrong-typed key or a wav2vec 2.0 config is rejected, and a file error names the file")
    func badConfiguration() throws {
        let wrongType = try JSONParser.parse(#"{"num_mel_bins": "128"}"#)
        let error = #expect(throws: PreprocessorConfigError.self) {
            try SpectrogramFeatures.Configuration(preprocessorConfig: wrongType)
        }
        #expect(error?.key == "num_mel_bins")
        let otherModel = try JSONParser.parse(#"{"feature_extractor_type": "Wav2Vec2FeatureExtractor"}"#)
        #expect(throws: PreprocessorConfigError.self) {
            try SpectrogramFeatures.Configuration(preprocessorConfig: otherModel)
        }
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("preprocessor_config.json").path
        try Data("{\"max_length\": 0}".utf8).write(to: URL(fileURLWithPath: path))
        let fileError = #expect(throws: PreprocessorConfigError.self) {
            try SpectrogramFeatures.Configuration(contentsOf: path)
        }
        #expect(fileError?.path == path && fileError?.key == "max_length")
        #expect(fileError?.description.contains("preprocessor_config.json") == true)
    }
}
