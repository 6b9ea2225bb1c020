import IPETAudio
import IPETFormats
import XCTest

/// wav2vec 2.0 input normalisation, `docs/model-numerics.md` §B.1: `(x − mean) / sqrt(var + 1e-7)`, population variance.
final class WaveformNormalizerTests: XCTestCase {
    static func stats(_ x: ArraySlice<Float>) -> (mean: Double, variance: Double) {
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x.count)
        return (mean, variance)
    }

    /// Output has mean 0 (|m| < 1e-6) and variance 1 (within 1e-5) for a loud, offset signal.
    func testMeanZeroVarianceOne() throws {
        let x = TestSignals.noise(amplitude: 0.8, count: 16000).map { $0 + 0.3 }
        let y = try WaveformNormalizer().process(x, sampleRate: 16000)
        let s = Self.stats(y[...])
        XCTAssertLessThan(abs(s.mean), 1e-6)
        XCTAssertLessThan(abs(s.variance - 1), 1e-5)
    }

    /// The formula: y = (x − mean) / sqrt(var + 1e-7) with ε inside the root.
    func testFormula() {
        let y = WaveformNormalizer.normalize([1, 2, 3, 4])
        let expected = [-1.5, -0.5, 0.5, 1.5].map { Float($0 / (1.25 + 1e-7).squareRoot()) }
        XCTAssertEqual(y, expected)
    }

    /// A constant signal becomes zeros (variance 0, ε keeps it finite).
    func testConstant() {
        XCTAssertEqual(WaveformNormalizer.normalize([0.5, 0.5, 0.5]), [0, 0, 0])
    }

    /// do_normalize false passes samples through; wrong rate and empty input are refused.
    func testPassThroughAndErrors() throws {
        var configuration = WaveformNormalizer.Configuration()
        configuration.doNormalize = false
        XCTAssertEqual(try WaveformNormalizer(configuration).process([0.1, 0.2], sampleRate: 16000), [0.1, 0.2])
        XCTAssertThrowsError(try WaveformNormalizer().process([0.1], sampleRate: 8000)) { error in
            XCTAssertEqual(error as? WaveformNormalizerError, .sampleRateMismatch(expected: 16000, actual: 8000), "\(error)")
        }
        XCTAssertThrowsError(try WaveformNormalizer().process([], sampleRate: 16000)) { error in
            XCTAssertEqual(error as? WaveformNormalizerError, .empty, "\(error)")
        }
    }

    /// Batch with attention mask: statistics over each utterance only, padded tail reset to padding_value.
    func testBatchWithMask() throws {
        var configuration = WaveformNormalizer.Configuration()
        configuration.returnAttentionMask = true
        let short: [Float] = [1, 2, 3]
        let long: [Float] = [4, 0, -4, 8, 1]
        let batch = try WaveformNormalizer(configuration).batch([short, long], sampleRate: 16000)
        XCTAssertEqual(batch.length, 5)
        XCTAssertEqual(batch.lengths, [3, 5])
        XCTAssertEqual(batch.attentionMask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        XCTAssertEqual(Array(batch.inputValues[0][0..<3]), WaveformNormalizer.normalize(short))
        XCTAssertEqual(Array(batch.inputValues[0][3...]), [0, 0])
        XCTAssertEqual(batch.inputValues[1], WaveformNormalizer.normalize(long))
    }

    /// Batch without attention mask: zeros of the padding are included in the statistics (as transformers does).
    func testBatchWithoutMask() throws {
        let batch = try WaveformNormalizer().batch([[1, 2, 3], [4, 0, -4, 8, 1]], sampleRate: 16000)
        XCTAssertNil(batch.attentionMask)
        XCTAssertEqual(batch.inputValues[0], WaveformNormalizer.normalize([1, 2, 3, 0, 0]))
    }

    /// Configuration from preprocessor_config.json, with transformers defaults for absent keys.
    func testConfiguration() throws {
        let json = try JSONParser.parse("""
            {"do_normalize": false, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
             "padding_side": "right", "padding_value": 0.5, "return_attention_mask": true, "sampling_rate": 8000}
            """)
        let c = try WaveformNormalizer.Configuration(preprocessorConfig: json)
        XCTAssertEqual(c.doNormalize, false)
        XCTAssertEqual(c.paddingValue, 0.5)
        XCTAssertTrue(c.returnAttentionMask)
        XCTAssertEqual(c.samplingRate, 8000)
        let defaults = try WaveformNormalizer.Configuration(preprocessorConfig: try JSONParser.parse("{}"))
        XCTAssertEqual(defaults, WaveformNormalizer.Configuration())
        XCTAssertEqual(defaults.samplingRate, 16000)
        XCTAssertTrue(defaults.doNormalize)
        XCTAssertEqual(defaults.paddingValue, 0)
        XCTAssertFalse(defaults.returnAttentionMask)
    }

    /// An AST config, stereo feature_size or a string sampling rate is rejected, naming the key.
    func testBadConfiguration() throws {
        for (text, key) in [
            (#"{"feature_extractor_type": "ASTFeatureExtractor"}"#, "feature_extractor_type"),
            (#"{"feature_size": 2}"#, "feature_size"),
            (#"{"sampling_rate": "16000"}"#, "sampling_rate"),
        ] {
            let json = try JSONParser.parse(text)
            XCTAssertThrowsError(try WaveformNormalizer.Configuration(preprocessorConfig: json), key) { error in
                guard let error = error as? PreprocessorConfigError else {
                    return XCTFail("\(key): expected a PreprocessorConfigError, got \(error)")
                }
                XCTAssertEqual(error.key, key)
            }
        }
    }
}
