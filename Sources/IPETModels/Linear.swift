import IPETTensor
import IPETFormats

/// `y = x·Wᵀ + b` with PyTorch's `[out, in]` weight layout, in float32 or, for the large layers of an int8 backbone,
/// with an int8 weight (`QuantizedWeight`, `Formats/int8.md`) and activations quantised per call (`Int8Gemm`).
public struct Linear: Sendable {
    public enum Weights: Sendable {
        case float32(Tensor)
        case int8(QuantizedWeight)
    }

    public let weights: Weights
    public let bias: Tensor?

    public var inFeatures: Int {
        switch weights {
        case let .float32(w): return w.shape[1]
        case let .int8(q): return q.inFeatures
        }
    }

    public var outFeatures: Int {
        switch weights {
        case let .float32(w): return w.shape[0]
        case let .int8(q): return q.outFeatures
        }
    }

    /// The int8 weight, when the layer runs in int8.
    public var int8Weight: QuantizedWeight? {
        if case let .int8(q) = weights { return q }
        return nil
    }

    public init(weight: Tensor, bias: Tensor?) {
        weights = .float32(weight)
        self.bias = bias
    }

    public init(int8 weight: QuantizedWeight, bias: Tensor?) {
        weights = .int8(weight)
        self.bias = bias
    }

    /// Loads `<scope>.weight` `[out, in]` and, when `bias`, `<scope>.bias` `[out]`. With `int8`, the layer is one of
    /// the large ones an int8 backbone runs in int8: it does when the store holds the weight as int8 (a converted
    /// file) or quantises at load (`WeightStore.quantizesAtLoad`); every other layer stays float32.
    public init(_ scope: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true, int8: Bool = false)
        throws(ModelError)
    {
        if int8, let q = try scope.store.int8Weight(scope.path("weight"), shape: [outFeatures, inFeatures]) {
            weights = .int8(q)
        } else {
            weights = .float32(try scope.tensor("weight", shape: [outFeatures, inFeatures]))
        }
        self.bias = bias ? try scope.tensor("bias", shape: [outFeatures]) : nil
    }

    /// Applies the layer to `rows` rows, then `activation` (fused into the product on oneDNN); `parallel` lets the
    /// GEMM use the whole thread budget (off inside parallel loops).
    public func callAsFunction(
        _ x: UnsafePointer<Float>, rows: Int, activation: GemmActivation = .none, into y: UnsafeMutablePointer<Float>,
        parallel: Bool = true
    ) {
        switch weights {
        case let .float32(weight):
            Gemm.linear(x, rows: rows, inFeatures: inFeatures, weight: weight, bias: bias, activation: activation, into: y,
                        parallel: parallel)
        case let .int8(weight):
            Int8Gemm.linear(x, rows: rows, weight: weight, bias: bias, activation: activation, into: y, parallel: parallel)
        }
    }
}
