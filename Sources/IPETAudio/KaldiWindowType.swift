import Foundation

/// The analysis windows of Kaldi's `FeatureWindowFunction`, as `torchaudio.compliance.kaldi` builds them.
///
/// With `a = 2π / (N − 1)` and `n = 0 … N−1` (symmetric windows, torch `periodic=False`):
/// - hanning:     `w = 0.5 − 0.5·cos(a·n)`            (what `ASTFeatureExtractor` asks for)
/// - povey:       `w = (0.5 − 0.5·cos(a·n))^0.85`     (Kaldi's default; "like Hamming but goes to zero at edges")
/// - hamming:     `w = 0.54 − 0.46·cos(a·n)`
/// - rectangular: `w = 1`
/// - blackman:    `w = c − 0.5·cos(a·n) + (0.5 − c)·cos(2a·n)` with `c = blackmanCoefficient` (0.42)
public enum KaldiWindowType: String, Sendable, CaseIterable {
    case hanning, povey, hamming, rectangular, blackman

    /// The window's `length` coefficients, replaying torch's Float32 arithmetic
    /// (`torch.hann_window(N, periodic=False)` = `arange(N) · f32(2π/(N−1))`, `cos`, `· −0.5`, `+ 0.5`; povey is
    /// that `^0.85`; hamming the same with 0.54/0.46; blackman as kaldi.py writes it), so the frames that reach
    /// the FFT are the ones torchaudio's are, not merely within a rounding of them.
    public func coefficients(length: Int, blackmanCoefficient: Double = 0.42) -> [Float] {
        precondition(length >= 1, "window length must be positive")
        if length == 1 { return [1] }
        let step = 2 * Double.pi / Double(length - 1)
        let a = Float(step)
        return (0..<length).map { n in
            let x = Float(n) * a
            switch self {
            case .hanning: return cos(x) * -0.5 + 0.5
            case .povey: return pow(cos(x) * -0.5 + 0.5, 0.85)
            case .hamming: return cos(x) * -0.46 + 0.54
            case .rectangular: return 1
            case .blackman:
                let c = Float(blackmanCoefficient)
                return c - 0.5 * cos(x) + (0.5 - c) * cos(Float(n) * Float(2 * step))
            }
        }
    }
}

