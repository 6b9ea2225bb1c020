import IPETTensor

extension FeedForward {
    /// `z = fc1(x)`, the GELU's input, which `backward` needs.
    func preActivation(_ x: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        up(x, rows: rows, into: z)
    }

    /// The forward from a pre-activation `z` made by `preActivation`: `out = fc2(GELU(z))` (z is kept).
    func forward(preActivation z: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let mid = workspace.buffer("ffn.mid", count: rows * up.outFeatures)
        mid.update(from: z, count: rows * up.outFeatures)
        Kernels.gelu(mid, count: rows * up.outFeatures)
        down(mid, rows: rows, into: out)
    }

    /// Input gradient of `fc2(GELU(fc1(x)))` with frozen weights, from the pre-activation `z = fc1(x)`:
    /// `dz = (dy·W₂) ⊙ GELU'(z)`, `dx = dz·W₁`, with `GELU'(z) = Φ(z) + z·φ(z)` (exact-erf GELU, as PyTorch's
    /// `GeluBackward`); written to `dx`, or added to it when `accumulate`.
    func backward(preActivation z: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>,
                  accumulate: Bool, workspace: Workspace) {
        let dz = workspace.buffer("ffn.bwd.dz", count: rows * up.outFeatures)
        down.backward(dy, rows: rows, into: dz)
        Kernels.geluBackward(z, dz, count: rows * up.outFeatures)
        up.backward(dz, rows: rows, into: dx, accumulate: accumulate)
    }
}
