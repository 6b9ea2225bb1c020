/// wav2vec 2.0's input preparation (transformers `Wav2Vec2FeatureExtractor`, `docs/model-numerics.md` §B.1).
///
/// Per utterance: `x' = (x − mean(x)) / sqrt(var(x) + 1e-7)` with the population variance (ddof 0) and ε inside
/// the square root. Mean, variance and each output value are computed in Double and rounded to Float once
/// (numpy works in Float32; the two agree to ~1e-7 relative).
public struct WaveformNormalizer: Sendable {
    public let configuration: Configuration

    /// The ε transformers adds to the variance.
    public static let varianceEpsilon = 1e-7

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// `input_values` for one unpadded utterance: normalised when `doNormalize`, otherwise unchanged.
    public func process(_ samples: [Float], sampleRate: Int) throws(WaveformNormalizerError) -> [Float] {
        guard sampleRate == configuration.samplingRate else {
            throw .sampleRateMismatch(expected: configuration.samplingRate, actual: sampleRate)
        }
        guard configuration.doNormalize else { return samples }
        guard !samples.isEmpty else { throw .empty }
        return Self.normalize(samples)
    }

    /// Right-pads `utterances` with `paddingValue` to the longest, then normalises each row: over its own
    /// samples with the padded tail reset to `paddingValue` when the config returns an attention mask, over the
    /// whole padded row (zeros included) when it does not — exactly as transformers does.
    public func batch(_ utterances: [[Float]], sampleRate: Int) throws(WaveformNormalizerError) -> WaveformBatch {
        guard sampleRate == configuration.samplingRate else {
            throw .sampleRateMismatch(expected: configuration.samplingRate, actual: sampleRate)
        }
        let lengths = utterances.map(\.count)
        let length = lengths.max() ?? 0
        var rows: [[Float]] = []
        rows.reserveCapacity(utterances.count)
        for utterance in utterances {
            var row = utterance
            row.append(contentsOf: repeatElement(configuration.paddingValue, count: length - utterance.count))
            if configuration.doNormalize {
                if configuration.returnAttentionMask {
                    guard !utterance.isEmpty else { throw .empty }
                    row = Self.normalize(row, validLength: utterance.count, paddingValue: configuration.paddingValue)
                } else {
                    guard !row.isEmpty else { throw .empty }
                    row = Self.normalize(row)
                }
            }
            rows.append(row)
        }
        let mask = configuration.returnAttentionMask
            ? lengths.map { n in (0..<length).map { $0 < n ? Int32(1) : Int32(0) } } : nil
        return WaveformBatch(inputValues: rows, attentionMask: mask, lengths: lengths)
    }

    /// Zero mean, unit variance over all of `samples` (which must not be empty).
    public static func normalize(_ samples: [Float]) -> [Float] {
        normalize(samples, validLength: samples.count, paddingValue: 0)
    }

    /// Statistics over the first `validLength` samples; those are normalised and the rest set to `paddingValue`.
    public static func normalize(_ samples: [Float], validLength: Int, paddingValue: Float) -> [Float] {
        precondition(validLength > 0 && validLength <= samples.count, "normalize: bad valid length \(validLength)")
        var total = 0.0
        for i in 0..<validLength { total += Double(samples[i]) }
        let mean = total / Double(validLength)
        var squares = 0.0
        for i in 0..<validLength {
            let d = Double(samples[i]) - mean
            squares += d * d
        }
        let std = (squares / Double(validLength) + varianceEpsilon).squareRoot()
        var out = [Float](repeating: paddingValue, count: samples.count)
        for i in 0..<validLength { out[i] = Float((Double(samples[i]) - mean) / std) }
        return out
    }
}
