import IPETTensor
import IPETFormats

/// The transformer MLP: `fc2(GELU(fc1(x)))`, the GELU fused into `fc1`'s product where the backend can (oneDNN's
/// exact-erf eltwise post-op), so the 4×-wide intermediate is written once instead of written, read and rewritten.
public struct FeedForward: Sendable {
    public let up: Linear
    public let down: Linear

    public init(up: Linear, down: Linear) {
        self.up = up
        self.down = down
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let mid = workspace.buffer("ffn.mid", count: rows * up.outFeatures)
        StageTimer.measure("ffn.up") { up(x, rows: rows, activation: .gelu, into: mid) }
        StageTimer.measure("ffn.down") { down(mid, rows: rows, into: out) }
    }
}
