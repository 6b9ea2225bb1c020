import IPETTensor

/// IPET's per-layer additions to a frozen transformer layer (`docs/ipet-method.md` §1–2): deep embedding prompts that are
/// prepended to the layer's input and dropped from its output, and a parallel bottleneck adapter beside the MLP.
/// A value type passed into a forward call; the backbone itself is never modified.
public struct LayerAdaptation: Sendable {
    /// `[k, hidden]` prompt tokens, or nil.
    public var prompts: Tensor?
    public var adapter: BottleneckAdapter?

    public init(prompts: Tensor? = nil, adapter: BottleneckAdapter? = nil) {
        self.prompts = prompts
        self.adapter = adapter
    }

    public var promptCount: Int { prompts?.shape[0] ?? 0 }

    /// The layer's input sequence `[batch, k + tokens, hidden]`: this layer's prompts before each item's tokens,
    /// in a workspace buffer; `h` itself when there are no prompts.
    func prependPrompts(to h: UnsafeMutablePointer<Float>, batch: Int, tokens n: Int, hidden d: Int, workspace: Workspace)
        -> UnsafeMutablePointer<Float>
    {
        guard let prompts, promptCount > 0 else { return h }
        let k = promptCount, m = n + k
        let x = workspace.buffer("layer.extended", count: batch * m * d)
        for b in 0..<batch {
            (x + b * m * d).update(from: prompts.data, count: k * d)
            (x + (b * m + k) * d).update(from: h + b * n * d, count: n * d)
        }
        return x
    }

    /// Copies the token rows of `x` (from `prependPrompts`) back to `h`, dropping the prompt outputs.
    func dropPrompts(from x: UnsafeMutablePointer<Float>, into h: UnsafeMutablePointer<Float>, batch: Int, tokens n: Int, hidden d: Int) {
        let k = promptCount
        guard k > 0 else { return }
        for b in 0..<batch { (h + b * n * d).update(from: x + (b * (n + k) + k) * d, count: n * d) }
    }

    /// The parallel adapter's output for `rows` rows of `x` (with `dropout` in training), in a workspace buffer; nil
    /// without an adapter.
    func adapterOutput(_ x: UnsafePointer<Float>, rows: Int, dropout: AdapterDropout? = nil, workspace: Workspace) -> UnsafeMutablePointer<Float>? {
        guard let adapter else { return nil }
        let out = workspace.buffer("layer.adapter", count: rows * adapter.up.outFeatures)
        adapter(x, rows: rows, into: out, dropout: dropout, workspace: workspace)
        return out
    }
}
