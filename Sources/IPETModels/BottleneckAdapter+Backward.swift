import IPETTensor

extension BottleneckAdapter {
    /// The gradients of an adapter's two trainable layers.
    public struct Gradient: Sendable {
        public let down: Linear.Gradient
        public let up: Linear.Gradient

        public init(down: Linear.Gradient, up: Linear.Gradient) {
            self.down = down
            self.up = up
        }
    }

    /// Gradients of `a = s·up(m ⊙ ReLU(down(x)))` (+ x with `addResidual`), m the dropout mask, for the adapter's input
    /// `x` and output gradient `dy`; the bottleneck is recomputed from `x` and the mask redrawn from `dropout`'s seed.
    ///
    ///     g = s·dy;  ∂W_up += gᵀ·h, ∂b_up += Σ g   with h = m ⊙ ReLU(z), z = down(x)
    ///     dz = (g·W_up) ⊙ m ⊙ 1[z > 0];  ∂W_down += dzᵀ·x, ∂b_down += Σ dz;  dx += dz·W_down (+ dy)
    ///
    /// The input gradient is always added to `dx` (the adapter is a branch beside the stream it reads).
    func backward(input x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows: Int, dropout: AdapterDropout?,
                  gradient: Gradient, addingTo dx: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let b = bottleneck, d = up.outFeatures
        let z = workspace.buffer("adapter.bwd.z", count: rows * b)
        let h = workspace.buffer("adapter.bwd.h", count: rows * b)
        let g = workspace.buffer("adapter.bwd.g", count: rows * d)
        down(x, rows: rows, into: z)
        h.update(from: z, count: rows * b)
        Kernels.relu(h, count: rows * b)
        dropout?.apply(h, count: rows * b)
        g.update(from: dy, count: rows * d)
        Kernels.scale(g, by: scale, count: rows * d)
        up.accumulateGradient(g, input: h, rows: rows, into: gradient.up)
        let dz = h  // h is no longer needed: reuse its buffer
        up.backward(g, rows: rows, into: dz)
        dropout?.apply(dz, count: rows * b)
        for i in 0..<(rows * b) where z[i] <= 0 { dz[i] = 0 }
        down.accumulateGradient(dz, input: x, rows: rows, into: gradient.down)
        down.backward(dz, rows: rows, into: dx, accumulate: true)
        if addResidual { Kernels.add(dx, dy, into: dx, count: rows * d) }
    }
}
