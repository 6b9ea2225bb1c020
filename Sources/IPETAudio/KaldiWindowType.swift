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

    /// The window's `length` coefficients, computed in Double and rounded to Float once (torch computes them
    /// in Float32; the two differ by at most one unit in the last place).
    public func coefficients(length: Int, blackmanCoefficient: Double = 0.42) -> [Float] {
        precondition(length >= 1, "window length must be positive")
        if length == 1 { return [1] }
        let a = 2 * Double.pi / Double(length - 1)
        return (0..<length).map { n in
            let c = cos(a * Double(n))
            let w: Double
            switch self {
            case .hanning: w = 0.5 - 0.5 * c
            case .povey: w = pow(max(0.5 - 0.5 * c, 0), 0.85)
            case .hamming: w = 0.54 - 0.46 * c
            case .rectangular: w = 1
            case .blackman:
                w = blackmanCoefficient - 0.5 * c + (0.5 - blackmanCoefficient) * cos(2 * a * Double(n))
            }
            return Float(w)
        }
    }
}

