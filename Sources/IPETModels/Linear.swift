import IPETTensor
import IPETFormats

/// `y = x·Wᵀ + b` with PyTorch's `[out, in]` weight layout.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }

    /// Loads `<scope>.weight` `[out, in]` and, when `bias`, `<scope>.bias` `[out]`.
    public init(_ scope: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) throws(ModelError) {
        weight = try scope.tensor("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try scope.tensor("bias", shape: [outFeatures]) : nil
    }

    /// Applies the layer to `rows` rows, then `activation` (fused into the product on oneDNN); `parallel` lets the
    /// GEMM use the whole thread budget (off inside parallel loops).
    public func callAsFunction(
        _ x: UnsafePointer<Float>, rows: Int, activation: GemmActivation = .none, into y: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        Gemm.linear(x, rows: rows, inFeatures: inFeatures, weight: weight, bias: bias, activation: activation, into: y,
                    parallel: parallel)
    }
}
