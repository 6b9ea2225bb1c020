/// Upper bounds on the sizes a configuration may declare (`config.json`, a pack's `ipet.backbone` and head).
///
/// Why: models, heads and packs allocate, loop and multiply by these numbers before any weight is compared with
/// them (a layer loop, `layers + 1` layer weights, a receptive field), so a hostile or mistyped value must be
/// refused with an error naming the key instead of trapping, looping for hours or exhausting memory. Each bound
/// is far above any published model (hidden 768–1280, 12–48 layers, intermediate 3072–5120, kernels ≤ 128,
/// AudioSet's 527 labels).
public enum ModelLimits {
    public static let hiddenSize = 65_536
    public static let layers = 1000
    public static let intermediateSize = 1 << 20
    /// Any convolution or TDNN kernel, stride or dilation.
    public static let kernel = 4096
    /// Layers of the conv feature encoder or the x-vector TDNN stack.
    public static let stackDepth = 64
    public static let labels = 1 << 20
}
