import IPETTensor
import IPETFormats

/// The transformer MLP: `fc2(GELU(fc1(x)))`.
public struct FeedForward: Sendable {
    public let up: Linear
    public let down: Linear

    public init(up: Linear, down: Linear) {
        self.up = up
        self.down = down
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let mid = workspace.buffer("ffn.mid", count: rows * up.outFeatures)
        up(x, rows: rows, into: mid)
        Kernels.gelu(mid, count: rows * up.outFeatures)
        down(mid, rows: rows, into: out)
    }
}
