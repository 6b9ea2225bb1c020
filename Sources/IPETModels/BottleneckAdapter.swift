import IPETTensor

/// `scale · up(ReLU(down(x)))` (AdaptFormer's AdaptMLP with IPET's defaults: ReLU, scale 0.1, no inner LN; dropout
/// after the ReLU in training).
/// With `addResidual` the adapter returns `x + scale·…`, reproducing the official wav2vec 2.0 code (§2 quirk).
public struct BottleneckAdapter: Sendable {
    public let down: Linear
    public let up: Linear
    public let scale: Float
    public let addResidual: Bool

    public init(down: Linear, up: Linear, scale: Float = 0.1, addResidual: Bool = false) {
        self.down = down
        self.up = up
        self.scale = scale
        self.addResidual = addResidual
    }

    public var bottleneck: Int { down.outFeatures }

    /// Writes the adapter output for `rows` rows of `x` into `out`; `dropout` (training only) masks the bottleneck
    /// after the ReLU.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, dropout: AdapterDropout? = nil,
                               workspace: Workspace) {
        let mid = workspace.buffer("adapter.mid", count: rows * bottleneck)
        down(x, rows: rows, into: mid)
        Kernels.relu(mid, count: rows * bottleneck)
        dropout?.apply(mid, count: rows * bottleneck)
        up(mid, rows: rows, into: out)
        let n = rows * up.outFeatures
        Kernels.scale(out, by: scale, count: n)
        if addResidual { Kernels.add(out, x, into: out, count: n) }
    }
}
