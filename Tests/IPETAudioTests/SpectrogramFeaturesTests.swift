import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import XCTest

/// Pad/truncate/normalise behaviour of the AST extractor and its configuration (`docs/model-numerics.md` §A.1).
final class SpectrogramFeaturesTests: XCTestCase {
    /// Defaults equal transformers' ASTFeatureExtractor: 16 kHz, 128 mel, 1024 frames, AudioSet mean/std.
    func testDefaults() throws {
        let c = try SpectrogramFeatures.Configuration(preprocessorConfig: JSONParser.parse("{}"))
        XCTAssertEqual(c, SpectrogramFeatures.Configuration())
        XCTAssertEqual(c.samplingRate, 16000)
        XCTAssertEqual(c.melBins, 128)
        XCTAssertEqual(c.maxLength, 1024)
        XCTAssertTrue(c.doNormalize)
        XCTAssertEqual(c.mean, -4.2677393)
        XCTAssertEqual(c.std, 4.5689974)
        XCTAssertEqual(c.paddingValue, 0)
        XCTAssertEqual(c.fbankOptions, KaldiFbankOptions())
    }

    /// 1 s of silence: 98 frames of −1.2775938 then padded rows of +0.46703236 (AudioSet stats).
    func testSilenceAndPadding() throws {
        let features = try SpectrogramFeatures().computeMatrix([Float](repeating: 0, count: 16000))
        XCTAssertEqual(features.shape, [1024, 128])
        XCTAssertTrue(features.values[0..<(98 * 128)].allSatisfy { abs($0 - -1.2775938) < 1e-6 })
        XCTAssertTrue(features.values[(98 * 128)...].allSatisfy { abs($0 - 0.46703236) < 1e-6 })
    }

    /// Long input keeps the first max_length frames.
    func testTruncation() throws {
        var configuration = SpectrogramFeatures.Configuration()
        configuration.maxLength = 10
        configuration.doNormalize = false
        let extractor = try SpectrogramFeatures(configuration)
        let x = TestSignals.noise(amplitude: 0.2, count: 16000)
        let all = try extractor.fbank.compute(x)
        let kept = try extractor.computeMatrix(x)
        XCTAssertEqual(kept.shape, [10, 128])
        XCTAssertEqual(kept.values, Array(all.values[0..<(10 * 128)]))
    }

    /// compute returns the same values flattened row-major.
    func testFlatCompute() throws {
        let extractor = try SpectrogramFeatures()
        let x = TestSignals.noise(amplitude: 0.2, count: 8000)
        XCTAssertEqual(try extractor.compute(x), try extractor.computeMatrix(x).values)
    }

    /// A wrong-typed key or a wav2vec 2.0 config is rejected, and a file error names the file.
    func testBadConfiguration() throws {
        let wrongType = try JSONParser.parse(#"{"num_mel_bins": "128"}"#)
        XCTAssertThrowsError(try SpectrogramFeatures.Configuration(preprocessorConfig: wrongType)) { error in
            guard let error = error as? PreprocessorConfigError else {
                return XCTFail("expected a PreprocessorConfigError, got \(error)")
            }
            XCTAssertEqual(error.key, "num_mel_bins")
        }
        let otherModel = try JSONParser.parse(#"{"feature_extractor_type": "Wav2Vec2FeatureExtractor"}"#)
        XCTAssertThrowsError(try SpectrogramFeatures.Configuration(preprocessorConfig: otherModel)) { error in
            XCTAssertTrue(error is PreprocessorConfigError, "expected a PreprocessorConfigError, got \(error)")
        }
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("preprocessor_config.json").path
        try Data("{\"max_length\": 0}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SpectrogramFeatures.Configuration(contentsOf: path)) { error in
            guard let fileError = error as? PreprocessorConfigError else {
                return XCTFail("expected a PreprocessorConfigError, got \(error)")
            }
            XCTAssertEqual(fileError.path, path)
            XCTAssertEqual(fileError.key, "max_length")
            XCTAssertTrue(fileError.description.contains("preprocessor_config.json"), fileError.description)
        }
    }
}
