import IPETTensor

extension LayerNorm {
    /// The gradient with respect to a trainable LayerNorm's weight and bias (the task head's), summed over calls.
    public struct Gradient: Sendable {
        public let weight: Tensor
        public let bias: Tensor

        public init(weight: Tensor, bias: Tensor) {
            self.weight = weight
            self.bias = bias
        }
    }

    /// Input gradient of `y = x̂·w + b`, `x̂ = (x − μ)/σ`, `σ = √(var + eps)` (biased variance) over each row, from the
    /// layer's input `x` (statistics recomputed in double precision) and `dy`:
    ///
    ///     dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·w
    ///
    /// written to `dx`, or added to it when `accumulate`. With `gradient`, also `∂w += Σ_rows dy·x̂`, `∂b += Σ_rows dy`.
    public func backward(input x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>,
                         accumulate: Bool, gradient: Gradient? = nil) {
        let n = size
        if let gradient {
            // The head's few rows, in order: their parameter gradients sum over rows.
            var xhat = [Double](repeating: 0, count: n)
            var sums = [Double](repeating: 0, count: 2 * n)
            for r in 0..<rows {
                backwardRow(x + r * n, dy + r * n, into: dx + r * n, accumulate: accumulate, xhat: &xhat)
                for j in 0..<n {
                    sums[j] += Double(dy[r * n + j]) * xhat[j]
                    sums[n + j] += Double(dy[r * n + j])
                }
            }
            for j in 0..<n {
                gradient.weight.mutableData[j] += Float(sums[j])
                gradient.bias.mutableData[j] += Float(sums[n + j])
            }
            return
        }
        let (px, pdy, pdx) = (SendablePointer(x), SendablePointer(dy), SendablePointer(dx))
        let blocks = ComputeThreads.ranges(rows, minimum: max(1, 8192 / max(n, 1)))
        ComputeThreads.parallelFor(blocks.count) { block in
            var xhat = [Double](repeating: 0, count: n)
            for r in blocks[block] {
                backwardRow(px.pointer + r * n, pdy.pointer + r * n, into: pdx.pointer + r * n, accumulate: accumulate, xhat: &xhat)
            }
        }
    }

    /// One row of `backward`; leaves the row's `x̂` in `xhat`.
    private func backwardRow(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                             accumulate: Bool, xhat: inout [Double]) {
        let n = size, w = weight.data
        var mean = 0.0
        for j in 0..<n { mean += Double(x[j]) }
        mean /= Double(n)
        var variance = 0.0
        for j in 0..<n {
            let c = Double(x[j]) - mean
            variance += c * c
        }
        let inv = 1 / (variance / Double(n) + Double(eps)).squareRoot()
        var meanG = 0.0, meanGX = 0.0
        for j in 0..<n {
            xhat[j] = (Double(x[j]) - mean) * inv
            let g = Double(dy[j]) * Double(w[j])
            meanG += g
            meanGX += g * xhat[j]
        }
        meanG /= Double(n)
        meanGX /= Double(n)
        for j in 0..<n {
            let value = Float(inv * (Double(dy[j]) * Double(w[j]) - meanG - xhat[j] * meanGX))
            dx[j] = accumulate ? dx[j] + value : value
        }
    }
}
