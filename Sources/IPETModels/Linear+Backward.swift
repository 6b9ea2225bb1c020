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
    /// An int8 layer (a frozen layer of an int8 backbone) differentiates through its dequantised weight, the
    /// straight-through estimate of its quantised product.
    public func backward(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        func product(_ w: UnsafePointer<Float>) {
            Gemm.gemm(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: w, ldb: inFeatures,
                      beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        }
        switch weights {
        case let .float32(weight):
            product(weight.data)
        case let .int8(q):
            var dense = [Float](repeating: 0, count: outFeatures * inFeatures)
            dense.withUnsafeMutableBufferPointer { buffer in
                for o in 0..<outFeatures { q.dequantizeRow(o, into: buffer.baseAddress! + o * inFeatures) }
                product(buffer.baseAddress!)
            }
        }
    }

    /// Parameter gradients of `y = x·Wᵀ + b` for the layer's input `x`: `∂W += dyᵀ·x`, `∂b += Σ_rows dy`.
    public func accumulateGradient(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, rows: Int, into gradient: Gradient) {
        Gemm.gemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures, b: x, ldb: inFeatures,
                  beta: 1, c: gradient.weight.mutableData, ldc: inFeatures)
        if let bias = gradient.bias { Kernels.addColumnSums(dy, rows: rows, cols: outFeatures, into: bias.mutableData) }
    }
}
