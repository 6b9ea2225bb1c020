/// An element-wise function applied to a GEMM's output (after the bias), fused into the product where the backend
/// can: oneDNN runs it as an eltwise post-op on each output block while it is still in cache; OpenBLAS is followed
/// by a separate pass of the element-wise kernel.
public enum GemmActivation: Sendable, Hashable {
    case none
    /// Exact-erf GELU, `0.5·x·(1 + erf(x/√2))` (PyTorch `nn.GELU()`); oneDNN's `dnnl_eltwise_gelu_erf`.
    case gelu
}
