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
        StageTimer.measure("attention.project") { project(x, rows: rows, q: q, k: k, v: v) }
        StageTimer.measure("attention.attend") {
            attend(q: q, k: k, v: v, batch: batch, tokens: tokens, keyLengths: keyLengths, into: ctx, workspace: workspace)
        }
        StageTimer.measure("attention.output") { output(ctx, rows: rows, into: out) }
    }

    /// `q, k, v = x·W_{q,k,v}ᵀ + b` for `rows` rows.
    func project(_ x: UnsafePointer<Float>, rows: Int, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                 v: UnsafeMutablePointer<Float>) {
        query(x, rows: rows, into: q)
        key(x, rows: rows, into: k)
        value(x, rows: rows, into: v)
    }

    /// How the two attention products (`q·kᵀ` and `p·v`) are computed. LayerNorm, softmax and the projections
    /// own arithmetic are not affected.
    public enum Products: Sendable, Equatable {
        /// float32 throughout.
        case float32
        /// bfloat16 operands (rounded to nearest even), float32 accumulation and output, on oneDNN's bf16 kernels.
        case bfloat16
        /// The same rounding of the operands, multiplied in float32: bfloat16's numbers on a CPU without bf16 dot
        /// products (slower than `float32`; for tests and comparisons).
        case bfloat16Emulated
    }

    /// When an int8 backbone's attention products use bfloat16 (`docs/native-libraries.md` §9).
    public enum BFloat16Policy: Sendable {
        /// Never: float32 products everywhere.
        case never
        /// Where the CPU has bf16 dot products (`BFloat16Gemm.isNative`); float32 elsewhere. The default.
        case whereNative
        /// Always: natively where possible, else emulated (tests use this to check bfloat16's numbers on any CPU).
        case always
    }

    /// Process-wide policy for int8 backbones; float32 backbones always attend in float32. Set it at start-up or
    /// between computations, never while one runs.
    nonisolated(unsafe) public static var bfloat16Policy: BFloat16Policy = .whereNative

    /// The products this layer computes with under the current policy: bfloat16 only when its projections are int8.
    public var products: Products {
        guard query.int8Weight != nil else { return .float32 }
        switch Self.bfloat16Policy {
        case .never: return .float32
        case .whereNative: return BFloat16Gemm.isNative ? .bfloat16 : .float32
        case .always: return BFloat16Gemm.isNative ? .bfloat16 : .bfloat16Emulated
        }
    }

    /// Query rows per block: a block's scores (`block × tokens` floats, 621 KB for 1214 tokens) stay in the core's L2
    /// between the two products and the softmax, instead of a whole head's (5.9 MB) going to memory three times.
    static let queryBlock = 128

    /// The context `softmax(q_h·k_hᵀ/√d_h)·v_h` of every head and sequence, heads side by side in `ctx`.
    ///
    /// Each worker copies its head's keys and values into contiguous `[tokens, d_h]` operands (as bfloat16, or
    /// rounded to it, when `products` says so), then runs the query rows in blocks of `queryBlock`: scores, softmax
    /// over the valid keys, and the block's context, written back into the head's columns. Contiguous operands keep
    /// oneDNN on its brgemm kernels (the strided head columns sent it to its older gemm, 1214×64×1214: 118 vs 102
    /// GFLOP/s on one thread); the row blocks keep the scores in L2. Rows are independent, so blocking changes no
    /// arithmetic; the scale `1/√d_h` is applied to the query operand (exact for power-of-two `d_h`).
    func attend(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, batch: Int, tokens: Int,
                keyLengths: [Int]?, into ctx: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let d = hidden, dh = headDim
        let products = self.products
        let block = min(tokens, Self.queryBlock)
        let workers = ComputeThreads.workers(batch * heads)
        // Per worker: scores [block, tokens], the block's context [block, dh], and its q, k, v operands.
        let perWorker = block * tokens + block * dh + (block + 2 * tokens) * dh
        let scratch = workspace.buffer("attn.scratch", count: workers * perWorker)
        let (pq, pk, pv, pc, ps) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(ctx), SendablePointer(scratch))
        let scale = 1 / Float(dh).squareRoot()
        ComputeThreads.parallelForWorkers(batch * heads) { worker, job in
            let b = job / heads, h = job % heads
            let base = b * tokens * d + h * dh
            let valid = Self.validKeys(keyLengths, item: b, tokens: tokens)
            let s = ps.pointer + worker * perWorker
            let out = s + block * tokens
            let operands = out + block * dh  // float32 operands, or bfloat16 ones in the same space (half of it)
            let (qo, ko, vo) = (operands, operands + block * dh, operands + (block + tokens) * dh)
            Self.operand(pk.pointer + base, rows: valid, cols: dh, ld: d, as: products, into: ko)
            Self.operand(pv.pointer + base, rows: valid, cols: dh, ld: d, as: products, into: vo)
            var start = 0
            while start < tokens {
                let rows = min(block, tokens - start)
                let rowBase = base + start * d
                // S = (q_h·scale) · k_hᵀ over valid keys only; padded keys get probability 0 (additive -inf mask).
                Self.operand(pq.pointer + rowBase, rows: rows, cols: dh, ld: d, scale: scale, as: products, into: qo)
                if products == .bfloat16 {
                    let (qb, kb, vb) = (Self.half(qo), Self.half(ko), Self.half(vo))
                    BFloat16Gemm.gemmSerial(m: rows, n: valid, k: dh, a: qb, aRowStride: dh, b: kb, bRowStride: 1,
                                            bColumnStride: dh, c: s, ldc: valid)
                } else {
                    Gemm.gemmSerial(transB: true, m: rows, n: valid, k: dh, a: qo, lda: dh, b: ko, ldb: dh, c: s, ldc: valid)
                }
                Kernels.softmaxRows(s, rows: rows, cols: valid)
                // The probabilities as the value product's operand, in place (bfloat16: over the first half of the
                // scores' own rows; each element is read before anything is written over it).
                Self.operand(s, rows: rows, cols: valid, ld: valid, as: products, into: s,
                             inPlace: true)
                if products == .bfloat16 {
                    BFloat16Gemm.gemmSerial(m: rows, n: dh, k: valid, a: Self.half(s), aRowStride: valid, b: Self.half(vo),
                                            bRowStride: dh, c: out, ldc: dh)
                } else {
                    Gemm.gemmSerial(m: rows, n: dh, k: valid, a: s, lda: valid, b: vo, ldb: dh, c: out, ldc: dh)
                }
                for r in 0..<rows { (pc.pointer + rowBase + r * d).update(from: out + r * dh, count: dh) }
                start += rows
            }
        }
    }

    /// `scale · src` (`rows × cols`, row stride `ld`) as a contiguous operand of `products`: float32, rounded to
    /// bfloat16 and kept in float32, or bfloat16 (then `dst` is read as `half(dst)`). `inPlace`: `src` is `dst` with
    /// `ld == cols`, and float32 needs nothing.
    private static func operand(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float = 1, as products: Products,
                                into dst: UnsafeMutablePointer<Float>, inPlace: Bool = false) {
        switch products {
        case .float32: if !inPlace { copyRows(src, rows: rows, cols: cols, ld: ld, scale: scale, into: dst) }
        case .bfloat16Emulated: BFloat16Gemm.round(src, rows: rows, cols: cols, ld: ld, scale: scale, into: dst)
        case .bfloat16: BFloat16Gemm.convert(src, rows: rows, cols: cols, ld: ld, scale: scale, into: half(dst))
        }
    }

    /// `dst[r·cols + c] = scale · src[r·ld + c]`.
    private static func copyRows(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float = 1,
                                 into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let (from, to) = (src + r * ld, dst + r * cols)
            if scale == 1 { to.update(from: from, count: cols) } else { for c in 0..<cols { to[c] = scale * from[c] } }
        }
    }

    /// The same memory seen as bfloat16 elements (float32 scratch holds twice as many).
    private static func half(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt16.self)
    }

    /// Keys of item `b` that may be attended: its key length clamped to the sequence, or every token.
    static func validKeys(_ keyLengths: [Int]?, item b: Int, tokens: Int) -> Int {
        keyLengths.map { min(max($0[b], 0), tokens) } ?? tokens
    }
}
