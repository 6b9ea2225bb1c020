import IPETTensor

extension Linear {
    /// The gradient of a trainable layer's loss with respect to its weight `[out, in]` and bias `[out]`, summed over
    /// every call of `accumulateGradient` since it was zeroed.
    public struct Gradient: Sendable {
        public let weight: Tensor
        public let bias: Tensor?

        public init(weight: Tensor, bias: Tensor?) {
            self.weight = weight
            self.bias = bias
        }
    }

    /// Input gradient of `y = x·Wᵀ + b`: `dx = dy·W` (`[rows, out]·[out, in]`), written to `dx` or added to it when
    /// `accumulate`. This is all a frozen layer needs.
    public func backward(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        Gemm.gemm(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: weight.data, ldb: inFeatures,
                  beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
    }

    /// Parameter gradients of `y = x·Wᵀ + b` for the layer's input `x`: `∂W += dyᵀ·x`, `∂b += Σ_rows dy`.
    public func accumulateGradient(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int, into gradient: Gradient) {
        Gemm.gemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures, b: x, ldb: inFeatures,
                  beta: 1, c: gradient.weight.mutableData, ldc: inFeatures)
        if let bias = gradient.bias { Kernels.addColumnSums(dy, rows: rows, cols: outFeatures, into: bias.mutableData) }
    }
}
