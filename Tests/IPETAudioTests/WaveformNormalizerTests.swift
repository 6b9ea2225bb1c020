import IPETAudio
import IPETFormats
import Testing

/// wav2vec 2.0 input normalisation, MODELS.md §B.1: `(x − mean) / sqrt(var + 1e-7)`, population variance.
@Suite struct WaveformNormalizerTests {
    static func stats(_ x: ArraySlice<Float>) -> (mean: Double, variance: Double) {
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        return (mean, variance)
    }

    @Test("output has mean 0 (|m| < 1e-6) and variance 1 (within 1e-5) for a loud, offset signal")
    func meanZeroVarianceOne() throws {
        let x = TestSignals.noise(amplitude: 0.8, count: 16000).map { $0 + 0.3 }
        let y = try WaveformNormalizer().process(x, sampleRate: 16000)
        let s = Self.stats(y[...])
        #expect(abs(s.mean) < 1e-6)
        #expect(abs(s.variance - 1) < 1e-5)
    }

    @Test("the formula: y = (x − mean) / sqrt(var + 1e-7) with ε inside the root")
    func formula() {
        let y = WaveformNormalizer.normalize([1, 2, 3, 4])
        let expected = [-1.5, -0.5, 0.5, 1.5].map { Float($0 / (1.25 + 1e-7).squareRoot()) }
        #expect(y == expected)
    }

    @Test("a constant signal becomes zeros (variance 0, ε keeps it finite)")
    func constant() {
        #expect(WaveformNormalizer.normalize([0.5, 0.5, 0.5]) == [0, 0, 0])
    }

    @Test("do_normalize false passes samples through; wrong rate and empty input are refused")
    func passThroughAndErrors() throws {
        var configuration = WaveformNormalizer.Configuration()
        configuration.doNormalize = false
        #expect(try WaveformNormalizer(configuration).process([0.1, 0.2], sampleRate: 16000) == [0.1, 0.2])
        #expect(throws: WaveformNormalizerError.sampleRateMismatch(expected: 16000, actual: 8000)) {
            try WaveformNormalizer().process([0.1], sampleRate: 8000)
        }
        #expect(throws: WaveformNormalizerError.empty) { try WaveformNormalizer().process([], sampleRate: 16000) }
    }

    @Test("batch with attention mask: statistics over each utterance only, padded tail reset to padding_value")
    func batchWithMask() throws {
        var configuration = WaveformNormalizer.Configuration()
        configuration.returnAttentionMask = true
        let short: [Float] = [1, 2, 3]
        let long: [Float] = [4, 0, -4, 8, 1]
        let batch = try WaveformNormalizer(configuration).batch([short, long], sampleRate: 16000)
        #expect(batch.length == 5 && batch.lengths == [3, 5])
        #expect(batch.attentionMask == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        #expect(Array(batch.inputValues[0][0..<3]) == WaveformNormalizer.normalize(short))
        #expect(Array(batch.inputValues[0][3...]) == [0, 0])
        #expect(batch.inputValues[1] == WaveformNormalizer.normalize(long))
    }

    @Test("batch without attention mask: zeros of the padding are included in the statistics (as transformers does)")
    func batchWithoutMask() throws {
        let batch = try WaveformNormalizer().batch([[1, 2, 3], [4, 0, -4, 8, 1]], sampleRate: 16000)
        #expect(batch.attentionMask == nil)
        #expect(batch.inputValues[0] == WaveformNormalizer.normalize([1, 2, 3, 0, 0]))
    }

    @Test("configuration from preprocessor_config.json, with transformers defaults for absent keys")
    func configuration() throws {
        let json = try JSONParser.parse("""
            {"do_normalize": false, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
             "padding_side": "right", "padding_value": 0.5, "return_attention_mask": true, "sampling_rate": 8000}
            """)
        let c = try WaveformNormalizer.Configuration(preprocessorConfig: json)
        #expect(c.doNormalize == false && c.paddingValue == 0.5 && c.returnAttentionMask && c.samplingRate == 8000)
        let defaults = try WaveformNormalizer.Configuration(preprocessorConfig: try JSONParser.parse("{}"))
        #expect(defaults == WaveformNormalizer.Configuration())
        #expect(defaults.samplingRate == 16000 && defaults.doNormalize && defaults.paddingValue == 0)
        #expect(!defaults.returnAttentionMask)
    }

    @Test("an AST config, stereo feature_size or a string sampling rate is rejected, naming the key")
    func badConfiguration() throws {
        for (text, key) in [
            (#"{"feature_extractor_type": "ASTFeatureExtractor"}"#, "feature_extractor_type"),
            (#"{"feature_size": 2}"#, "feature_size"),
            (#"{"sampling_rate": "16000"}"#, "sampling_rate"),
        ] {
            let json = try JSONParser.parse(text)
            let error = #expect(throws: PreprocessorConfigError.self) {
                try WaveformNormalizer.Configuration(preprocessorConfig: json)
            }
            #expect(error?.key == key)
        }
    }
}
