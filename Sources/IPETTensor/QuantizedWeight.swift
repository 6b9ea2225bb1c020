import CKernels

/// A `Linear` weight `[out, in]` (PyTorch layout) held as int8 values with one float32 scale per output channel:
/// `W[o][i] ≈ q[o][i] · scale[o]`, symmetric (no zero point), `q` in −127…127 (`Formats/int8.md`). A convolution
/// weight `[out, in, k]` is held the same way (`in` = everything after the first dimension) when an int8 file stores
/// it; it is computed in float32 (`dequantized()`).
///
/// Why per output channel and symmetric: each output column of `x·Wᵀ` then has one scale that factors out of its dot
/// product, so the product runs entirely in integers and the scale is applied once to the int32 result; rows of a
/// trained weight differ in range by an order of magnitude, which one scale per tensor would spend precision on; and
/// weights are centred on zero, so a zero point would buy nothing and cost a correction term (the usual choice:
/// PyTorch's `per_channel_symmetric` dynamic quantisation, ONNX Runtime's and compressed-tensors' channel scheme).
/// −128 is never used, so the range is symmetric and negation exact.
public struct QuantizedWeight: @unchecked Sendable {
    public let values: Int8Storage
    public let offset: Int
    public let outFeatures: Int
    public let inFeatures: Int
    /// `[out]`, every one finite and > 0.
    public let scales: Tensor
    /// Σ q over each output channel: the correction for the activations' zero point (`Int8Gemm`).
    let sums: [Int32]

    public var data: UnsafePointer<Int8> { UnsafePointer(values.pointer + offset) }
    public var shape: [Int] { [outFeatures, inFeatures] }
    /// The shape as stored: `shape`, or a convolution's `[out, in, k]`.
    public let storedShape: [Int]

    /// Int8 values and scales as stored (e.g. mapped from a file); the caller has checked shapes and scales.
    public init(values: Int8Storage, offset: Int = 0, outFeatures: Int, inFeatures: Int, scales: Tensor, storedShape: [Int]? = nil) {
        precondition(offset + outFeatures * inFeatures <= values.count && scales.count == outFeatures)
        precondition(storedShape.map { $0.first == outFeatures && $0.reduce(1, *) == outFeatures * inFeatures } ?? true)
        self.storedShape = storedShape ?? [outFeatures, inFeatures]
        self.values = values
        self.offset = offset
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.scales = scales
        var sums = [Int32](repeating: 0, count: outFeatures)
        let q = values.pointer + offset
        for o in 0..<outFeatures {
            var s: Int32 = 0
            for i in 0..<inFeatures { s += Int32(q[o * inFeatures + i]) }
            sums[o] = s
        }
        self.sums = sums
    }

    private init(values: Int8Storage, outFeatures: Int, inFeatures: Int, scales: Tensor, sums: [Int32], storedShape: [Int]) {
        self.storedShape = storedShape
        self.values = values
        offset = 0
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.scales = scales
        self.sums = sums
    }

    /// Quantises a float32 weight `[out, in]`: `scale[o] = max|W[o]| / 127` (1 for an all-zero row),
    /// `q = clamp(round_half_even(W / scale), −127, 127)`. The one function both `ipet convert --dtype int8` and
    /// quantising at load use, so the two give identical weights.
    public static func quantize(_ weight: Tensor) -> QuantizedWeight {
        precondition(weight.rank >= 2, "a Linear weight is [out, in] (a convolution's [out, in, k]), got \(weight.shape)")
        let out = weight.shape[0], inner = weight.count / max(out, 1)
        let values = Int8Storage(count: out * inner)
        let scales = Tensor(zeros: [out])
        var sums = [Int32](repeating: 0, count: out)
        sums.withUnsafeMutableBufferPointer { s in
            ipet_quantize_weights_s8(weight.data, out, inner, values.pointer, scales.mutableData, s.baseAddress)
        }
        return QuantizedWeight(values: values, outFeatures: out, inFeatures: inner, scales: scales, sums: sums, storedShape: weight.shape)
    }

    /// Row `o` as float32 (`q · scale[o]`, one rounded product each), into `out` (`inFeatures` values).
    public func dequantizeRow(_ o: Int, into out: UnsafeMutablePointer<Float>) {
        let q = data + o * inFeatures, s = scales.data[o]
        for i in 0..<inFeatures { out[i] = Float(q[i]) * s }
    }

    /// The float32 weight these values stand for.
    public func dequantized() -> Tensor {
        let t = Tensor(zeros: storedShape)
        for o in 0..<outFeatures { dequantizeRow(o, into: t.mutableData + o * inFeatures) }
        return t
    }
}
