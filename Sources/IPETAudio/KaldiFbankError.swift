/// Why `KaldiFbank` refused to compute features.
public enum KaldiFbankError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The options break one of torchaudio's assertions; the text says which.
    case invalidOptions(String)
    /// Fewer samples than one analysis window (torchaudio asserts `window_size <= len(waveform)`).
    case tooShort(samples: Int, windowSize: Int)
    /// Audio at another rate than the options' sample frequency (nothing is resampled here).
    case sampleRateMismatch(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case let .invalidOptions(reason): return "invalid fbank options: \(reason)"
        case let .tooShort(samples, window):
            return "waveform too short for fbank: \(samples) samples, one analysis window needs \(window)"
        case let .sampleRateMismatch(expected, actual):
            return "audio is at \(actual) Hz but the features expect \(expected) Hz; resample it first"
        }
    }
}
