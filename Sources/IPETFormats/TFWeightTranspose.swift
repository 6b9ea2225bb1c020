/// How a TF weight is rearranged into PyTorch layout (transformers' `TransposeType`).
public enum TFWeightTranspose: String, Sendable {
    case none = "NO"
    /// All axes reversed (a 2-D transpose for Dense kernels).
    case simple = "SIMPLE"
    /// `[k, in, out]` → `[out, in, k]` (axes 2, 1, 0).
    case conv1D = "CONV1D"
    /// `[kh, kw, in, out]` → `[out, in, kh, kw]` (axes 3, 2, 0, 1).
    case conv2D = "CONV2D"
}
