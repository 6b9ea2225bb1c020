/// Why `Resampler` refused or failed.
public enum ResamplingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A rate that is zero, negative or not finite.
    case invalidRate(Double)
    /// libsoxr's own error text (from `soxr_create` or `soxr_process`).
    case soxr(String)

    public var description: String {
        switch self {
        case let .invalidRate(rate): return "invalid sample rate \(rate) Hz (must be positive and finite)"
        case let .soxr(text): return "libsoxr: \(text)"
        }
    }
}
