import IPETTensor

extension SelfAttention {
    /// The forward for training: writes the projected attention output for `x` to `out` and keeps the layer's
    /// queries, keys and values in `q`, `k`, `v` (`[batch·tokens, hidden]` each) for `backward`.
    func forward(
        _ x: UnsafePointer<Float>, batch: Int, tokens: Int, keyLengths: [Int]?, q: UnsafeMutablePointer<Float>,
        k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, workspace: Workspace
    ) {
        let rows = batch * tokens
        let ctx = workspace.buffer("attn.ctx", count: rows * hidden)
        project(x, rows: rows, q: q, k: k, v: v)
        attend(q: q, k: k, v: v, batch: batch, tokens: tokens, keyLengths: keyLengths, into: ctx, workspace: workspace)
        output(ctx, rows: rows, into: out)
    }

    /// Input gradient of the attention block (frozen projections, so no weight gradients), from the `q`, `k`, `v`
    /// that `forward` kept and the output gradient `dy`; written to `dx`, or added to it when `accumulate`.
    ///
    /// Per sequence and head, with `S = Q Kᵀ·s` (s = 1/√d_h), `P = softmax(S)` over the valid keys, `O = P V` and
    /// `dO = dy·W_o` (the output projection's input gradient):
    ///
    ///     dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K·s,  dK = dSᵀ Q·s
    ///
    /// (PyTorch's matmul, softmax and scaling backward); masked keys have P = 0, so their rows of dK and dV are 0.
    /// P is recomputed per head in a worker's scratch rather than stored (heads × tokens² per item). Then
    /// `dx = dQ W_q + dK W_k + dV W_v`.
    func backward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, batch: Int,
        tokens: Int, keyLengths: [Int]?, into dx: UnsafeMutablePointer<Float>, accumulate: Bool, workspace: Workspace
    ) {
        let rows = batch * tokens, d = hidden, dh = headDim
        let dctx = workspace.buffer("attn.bwd.dctx", count: rows * d)
        let dq = workspace.buffer("attn.bwd.dq", count: rows * d)
        let dk = workspace.buffer("attn.bwd.dk", count: rows * d)
        let dv = workspace.buffer("attn.bwd.dv", count: rows * d)
        output.backward(dy, rows: rows, into: dctx)
        let workers = ComputeThreads.workers(batch * heads)
        let scratch = workspace.buffer("attn.bwd.scratch", count: 2 * workers * tokens * tokens)
        let (pq, pk, pv) = (SendablePointer(q), SendablePointer(k), SendablePointer(v))
        let (pdc, pdq, pdk, pdv, ps) = (SendablePointer(dctx), SendablePointer(dq), SendablePointer(dk), SendablePointer(dv),
                                        SendablePointer(scratch))
        let scale = 1 / Float(dh).squareRoot()
        ComputeThreads.parallelForWorkers(batch * heads) { worker, job in
            let b = job / heads, h = job % heads
            let base = b * tokens * d + h * dh
            let valid = Self.validKeys(keyLengths, item: b, tokens: tokens)
            let p = ps.pointer + 2 * worker * tokens * tokens, dp = p + tokens * tokens
            Gemm.gemmSerial(transB: true, m: tokens, n: valid, k: dh, alpha: scale, a: pq.pointer + base, lda: d,
                            b: pk.pointer + base, ldb: d, c: p, ldc: valid)
            Kernels.softmaxRows(p, rows: tokens, cols: valid)
            let dO = pdc.pointer + base
            Gemm.gemmSerial(transA: true, m: valid, n: dh, k: tokens, a: p, lda: valid, b: dO, ldb: d, c: pdv.pointer + base, ldc: d)
            Gemm.gemmSerial(transB: true, m: tokens, n: valid, k: dh, a: dO, lda: d, b: pv.pointer + base, ldb: d, c: dp, ldc: valid)
            for r in 0..<tokens {
                let pr = p + r * valid, dr = dp + r * valid
                var dot: Float = 0
                for j in 0..<valid { dot += dr[j] * pr[j] }
                for j in 0..<valid { dr[j] = pr[j] * (dr[j] - dot) }
            }
            Gemm.gemmSerial(m: tokens, n: dh, k: valid, alpha: scale, a: dp, lda: valid, b: pk.pointer + base, ldb: d,
                            c: pdq.pointer + base, ldc: d)
            Gemm.gemmSerial(transA: true, m: valid, n: dh, k: tokens, alpha: scale, a: dp, lda: valid, b: pq.pointer + base, ldb: d,
                            c: pdk.pointer + base, ldc: d)
            for r in valid..<tokens {
                (pdk.pointer + base + r * d).update(repeating: 0, count: dh)
                (pdv.pointer + base + r * d).update(repeating: 0, count: dh)
            }
        }
        query.backward(dq, rows: rows, into: dx, accumulate: accumulate)
        key.backward(dk, rows: rows, into: dx, accumulate: true)
        value.backward(dv, rows: rows, into: dx, accumulate: true)
    }
}
