import IPETTensor

extension LayerAdaptation {
    /// The gradients of one layer's prompts `[k, hidden]` and adapter.
    public struct Gradient: Sendable {
        public var prompts: Tensor?
        public var adapter: BottleneckAdapter.Gradient?

        public init(prompts: Tensor? = nil, adapter: BottleneckAdapter.Gradient? = nil) {
            self.prompts = prompts
            self.adapter = adapter
        }
    }

    /// Splits the gradient `dx` of the layer's input sequence `[batch, k + tokens, hidden]` (from `prependPrompts`):
    /// the prompts, shared by every item, get `∂P += Σ_items dx[item, 0..<k]`; the token rows are copied to `dh`
    /// `[batch, tokens, hidden]`. Without prompts `dx` is already `dh`.
    func backwardPrompts(_ dx: UnsafePointer<Float>, into dh: UnsafeMutablePointer<Float>, batch: Int, tokens n: Int, hidden d: Int,
                         gradient: Gradient?) {
        let k = promptCount
        guard k > 0 else {
            if dx != UnsafePointer(dh) { dh.update(from: dx, count: batch * n * d) }
            return
        }
        if let g = gradient?.prompts {
            var sums = [Double](repeating: 0, count: k * d)
            for b in 0..<batch {
                let rows = dx + b * (n + k) * d
                for i in 0..<(k * d) { sums[i] += Double(rows[i]) }
            }
            let out = g.mutableData
            for i in 0..<(k * d) { out[i] += Float(sums[i]) }
        }
        for b in 0..<batch { (dh + b * n * d).update(from: dx + (b * (n + k) + k) * d, count: n * d) }
    }

    /// The gradient of the layer's output sequence `[batch, k + tokens, hidden]` from that of the kept token rows
    /// `dh` `[batch, tokens, hidden]`: the dropped prompt rows get 0. `dh` itself when there are no prompts.
    func outputGradient(_ dh: UnsafeMutablePointer<Float>, batch: Int, tokens n: Int, hidden d: Int, workspace: Workspace)
        -> UnsafeMutablePointer<Float>
    {
        let k = promptCount
        guard k > 0 else { return dh }
        let out = workspace.buffer("layer.bwd.dout", count: batch * (n + k) * d)
        for b in 0..<batch {
            (out + b * (n + k) * d).update(repeating: 0, count: k * d)
            (out + (b * (n + k) + k) * d).update(from: dh + b * n * d, count: n * d)
        }
        return out
    }
}
