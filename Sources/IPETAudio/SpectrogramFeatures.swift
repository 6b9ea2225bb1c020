/// The input of an Audio Spectrogram Transformer: what transformers' `ASTFeatureExtractor` returns as
/// `input_values[0]`, a `[maxLength × melBins]` matrix (time × mel), row-major.
///
/// Steps (`docs/model-numerics.md` §A.1): Kaldi log-mel fbank of the raw waveform (no ×2¹⁵ scaling) → append rows of 0.0 up to
/// `maxLength` frames, or keep the first `maxLength` → when `doNormalize`, `v' = (v − mean) / (2·std)` on every
/// value, padded rows included (so a padded row becomes `−mean / (2·std)`, +0.46703236 with AudioSet stats).
/// The arithmetic is Float32 like numpy's: `(v − Float(mean)) / Float(2·std)`.
///
/// Cheap to create: the `KaldiFbank` (FFTW plan, mel bank) is shared between instances with the same options.
public struct SpectrogramFeatures: Sendable {
    public let configuration: Configuration
    public let fbank: KaldiFbank

    public init(_ configuration: Configuration = Configuration()) throws(KaldiFbankError) {
        self.configuration = configuration
        self.fbank = try KaldiFbank.shared(options: configuration.fbankOptions)
    }

    /// `input_values` for one mono clip at `configuration.samplingRate`, flattened row-major
    /// (`maxLength · melBins` values, frame after frame).
    public func compute(_ samples: [Float]) throws(KaldiFbankError) -> [Float] {
        try computeMatrix(samples).values
    }

    /// `input_values` for one mono clip at `configuration.samplingRate`.
    public func computeMatrix(_ samples: [Float]) throws(KaldiFbankError) -> FeatureMatrix {
        var values = padOrTruncate(try fbank.compute(samples))
        if configuration.doNormalize { normalize(&values) }
        return values
    }

    /// Same, but first checks that the audio really is at `configuration.samplingRate`.
    public func computeMatrix(_ samples: [Float], sampleRate: Int) throws(KaldiFbankError) -> FeatureMatrix {
        guard sampleRate == configuration.samplingRate else {
            throw .sampleRateMismatch(expected: configuration.samplingRate, actual: sampleRate)
        }
        return try computeMatrix(samples)
    }

    /// Zero rows appended, or leading rows kept, to give exactly `maxLength` rows.
    public func padOrTruncate(_ features: FeatureMatrix) -> FeatureMatrix {
        let rows = configuration.maxLength
        let kept = min(rows, features.rows) * features.columns
        var values = [Float](repeating: 0, count: rows * features.columns)
        values.replaceSubrange(0..<kept, with: features.values[0..<kept])
        return FeatureMatrix(rows: rows, columns: features.columns, values: values)
    }

    /// `v' = (v − mean) / (2·std)` in Float32, in place.
    public func normalize(_ features: inout FeatureMatrix) {
        let mean = Float(configuration.mean)
        let scale = Float(configuration.std * 2)
        features.values.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] = (v[i] - mean) / scale }
        }
    }
}
