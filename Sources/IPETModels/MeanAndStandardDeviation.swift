import IPETTensor
import IPETFormats

/// Statistics pooling over time: `out[0..<c]` = mean, `out[c..<2c]` = unbiased std (divide by n − 1) of the
/// first `frames` rows of a `[frames, c]` matrix, in double precision (NaN std for one frame, as PyTorch).
public func meanAndStandardDeviation(_ x: UnsafePointer<Float>, frames n: Int, channels c: Int, into out: UnsafeMutablePointer<Float>) {
    for j in 0..<c {
        var sum = 0.0
        for f in 0..<n { sum += Double(x[f * c + j]) }
        let mean = sum / Double(n)
        var ss = 0.0
        for f in 0..<n {
            let v = Double(x[f * c + j]) - mean
            ss += v * v
        }
        out[j] = Float(mean)
        out[c + j] = n > 1 ? Float((ss / Double(n - 1)).squareRoot()) : .nan
    }
}
