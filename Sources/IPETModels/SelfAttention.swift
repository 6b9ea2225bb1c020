import IPETTensor
import IPETFormats

/// Multi-head scaled dot-product self-attention, eager form (`softmax(q·kᵀ/√d)·v` then the output projection),
/// as both AST (ViT) and wav2vec 2.0 compute it. Heads are columns `head·d ..< (head+1)·d` of q, k, v.
public struct SelfAttention: Sendable {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int

    public init(query: Linear, key: Linear, value: Linear, output: Linear, heads: Int) throws(ModelError) {
        self.query = query
        self.key = key
        self.value = value
        self.output = output
        self.heads = heads
    }

    public var hidden: Int { query.outFeatures }
    public var headDim: Int { hidden / heads }

    /// Attends within each of `batch` sequences of `tokens` rows of `x` (`[batch·tokens, hidden]`), writing the
    /// projected result to `out`. Keys at positions ≥ `keyLengths[b]` are masked (padding), when given.
    public func callAsFunction(
        _ x: UnsafePointer<Float>, batch: Int, tokens: Int, keyLengths: [Int]? = nil,
        into out: UnsafeMutablePointer<Float>, workspace: Workspace
    ) {
        let rows = batch * tokens
        let q = workspace.buffer("attn.q", count: rows * hidden)
        let k = workspace.buffer("attn.k", count: rows * hidden)
        let v = workspace.buffer("attn.v", count: rows * hidden)
        let ctx = workspace.buffer("attn.ctx", count: rows * hidden)
        project(x, rows: rows, q: q, k: k, v: v)
        attend(q: q, k: k, v: v, batch: batch, tokens: tokens, keyLengths: keyLengths, into: ctx, workspace: workspace)
        output(ctx, rows: rows, into: out)
    }

    /// `q, k, v = x·W_{q,k,v}ᵀ + b` for `rows` rows.
    func project(_ x: UnsafePointer<Float>, rows: Int, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                 v: UnsafeMutablePointer<Float>) {
        query(x, rows: rows, into: q)
        key(x, rows: rows, into: k)
        value(x, rows: rows, into: v)
    }

    /// The context `softmax(q_h·k_hᵀ/√d_h)·v_h` of every head and sequence, heads side by side in `ctx`.
    func attend(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, batch: Int, tokens: Int,
                keyLengths: [Int]?, into ctx: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let d = hidden, dh = headDim
        let workers = ComputeThreads.workers(batch * heads)
        let scores = workspace.buffer("attn.scores", count: workers * tokens * tokens)
        let (pq, pk, pv, pc, ps) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(ctx), SendablePointer(scores))
        let scale = 1 / Float(dh).squareRoot()
        ComputeThreads.parallelForWorkers(batch * heads) { worker, job in
            let b = job / heads, h = job % heads
            let base = b * tokens * d + h * dh
            let s = ps.pointer + worker * tokens * tokens
            let valid = Self.validKeys(keyLengths, item: b, tokens: tokens)
            // S = q_h · k_hᵀ · scale over valid keys only; padded keys get probability 0 (additive -inf mask).
            Gemm.gemmSerial(transB: true, m: tokens, n: valid, k: dh, alpha: scale, a: pq.pointer + base, lda: d,
                            b: pk.pointer + base, ldb: d, c: s, ldc: valid)
            Kernels.softmaxRows(s, rows: tokens, cols: valid)
            Gemm.gemmSerial(m: tokens, n: dh, k: valid, a: s, lda: valid, b: pv.pointer + base, ldb: d,
                            c: pc.pointer + base, ldc: d)
        }
    }

    /// Keys of item `b` that may be attended: its key length clamped to the sequence, or every token.
    static func validKeys(_ keyLengths: [Int]?, item b: Int, tokens: Int) -> Int {
        keyLengths.map { min(max($0[b], 0), tokens) } ?? tokens
    }
}
