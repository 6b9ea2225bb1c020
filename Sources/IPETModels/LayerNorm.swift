import IPETTensor
import IPETFormats

/// `nn.LayerNorm` over the last axis (biased variance, eps inside the square root).
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Float) {
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    public init(_ scope: WeightScope, size: Int, eps: Float) throws(ModelError) {
        weight = try scope.tensor("weight", shape: [size])
        bias = try scope.tensor("bias", shape: [size])
        self.eps = eps
    }

    public var size: Int { weight.count }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Kernels.layerNorm(x, rows: rows, cols: size, weight: weight.data, bias: bias.data, eps: eps, into: y)
    }
}
