/// Why `WaveformNormalizer` refused an input.
public enum WaveformNormalizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Audio at another rate than the config's `sampling_rate`; resample it first.
    case sampleRateMismatch(expected: Int, actual: Int)
    /// No samples: mean and variance are undefined (numpy would return NaN).
    case empty

    public var description: String {
        switch self {
        case let .sampleRateMismatch(expected, actual):
            return "audio is at \(actual) Hz but the model expects \(expected) Hz; resample it first"
        case .empty: return "cannot normalise an empty waveform"
        }
    }
}
