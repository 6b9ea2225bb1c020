/// How `Int8Gemm` quantises a product's float32 input, per call.
///
/// Per row (per token) or one range for the whole input; unsigned bytes with a zero point (asymmetric: the range
/// [min, max] of the row, 0 exactly representable) or signed bytes symmetric around 0. The int32 result is rescaled by
/// our own pass in every case (`OneDNNMatmul` says why), so all four cost the same product; they differ in
/// accuracy only. *Measured* (`Formats/int8.md` §4: max |logit difference| from float32 on the full-size random AST
/// and wav2vec 2.0 base): per row beats per tensor on both (AST 0.217 / 0.207 per row against 0.251 / 0.233 per
/// tensor; wav2vec 2.0 0.099 / 0.101 against 0.126 / 0.113), u8 and s8 per row are within 5 % of each other, and u8
/// is oneDNN's native VNNI form (an s8 source costs a compensation term), so `u8PerRow` is the default.
public enum Int8ActivationScheme: String, CaseIterable, Sendable {
    /// Unsigned bytes, one scale and zero point per row: `x ≈ (q − z) · s` over the row's [min(0, min), max(0, max)].
    case u8PerRow = "u8-per-row"
    /// Signed bytes, one scale per row: `x ≈ q · s`, `s = max|x| / 127`.
    case s8PerRow = "s8-per-row"
    /// Unsigned bytes with one scale and zero point for the whole input.
    case u8PerTensor = "u8-per-tensor"
    /// Signed bytes with one scale for the whole input.
    case s8PerTensor = "s8-per-tensor"

    public var isSigned: Bool { self == .s8PerRow || self == .s8PerTensor }
    public var isPerRow: Bool { self == .u8PerRow || self == .s8PerRow }

    nonisolated(unsafe) private static var selected: Int8ActivationScheme = .u8PerRow

    /// The scheme every int8 product uses. Set it between computations (tests and measurements compare them), never
    /// while one runs.
    public static var current: Int8ActivationScheme {
        get { selected }
        set { selected = newValue }
    }

    /// The largest quantised magnitude: 127 for s8; 255 for u8, 127 where oneDNN has no VNNI (its `vpmaddubsw`
    /// path sums pairs of u8·s8 products in 16 bits, which saturate above 32767: 2 · 127 · 127 fits, 2 · 255 · 127 does
    /// not; oneDNN's int8 notes). s8 sources do not go through oneDNN there at all (`Int8Gemm.usesOneDNN`).
    public var top: Int32 {
        isSigned ? 127 : (OneDNN.hasVNNI ? 255 : 127)
    }

    /// Scale, its inverse and zero point for values in [lo, hi]: what `x ≈ (q − zero) · scale` uses. A range that is
    /// not finite (a NaN or infinity in the input) gets scale NaN, so its outputs are NaN as in float32, not numbers.
    func parameters(lo: Float, hi: Float) -> (scale: Float, inverse: Float, zero: Int32) {
        let l = min(lo, 0), h = max(hi, 0)
        guard l.isFinite, h.isFinite else { return (.nan, 0, 0) }
        let t = Float(top)
        if isSigned {
            let a = max(-l, h)
            guard a > 0 else { return (1, 1, 0) }
            let scale = a / t
            return (scale, 1 / scale, 0)
        }
        guard h - l > 0 else { return (1, 1, 0) }
        let scale = (h - l) / t
        let zero = min(max((-l / scale).rounded(.toNearestOrEven), 0), t)
        return (scale, 1 / scale, Int32(zero))
    }
}
