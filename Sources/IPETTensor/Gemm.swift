/// Row-major single-precision matrix multiplication:
/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op` transposes when asked.
///
/// Leading dimensions are the row strides of the matrices as stored (A is `m×k` or, transposed, `k×m`). Every call
/// goes to `GemmBackend.current`: oneDNN (cached primitives, packed `Linear` weights) or OpenBLAS, both
/// single-threaded and split by us over `ComputeThreads`. `gemm` may use the whole thread budget; `gemmSerial`
/// uses one thread, for loops that are already parallel.
public enum Gemm {
    /// Below this many multiply-adds a split (or a second thread) costs more than it saves.
    static let parallelThreshold = 1 << 18

    public static func gemmSerial(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        switch GemmBackend.current {
        case .openblas:
            OpenBLASGemm.serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                beta: beta, c: c, ldc: ldc)
        case .onednn:
            OneDNNGemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c, ldc: ldc, parallel: false)
        }
    }

    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        switch GemmBackend.current {
        case .openblas:
            OpenBLASGemm.parallel(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                                  ldb: ldb, beta: beta, c: c, ldc: ldc)
        case .onednn:
            OneDNNGemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c, ldc: ldc, parallel: true)
        }
    }

    /// `y[rows×out] = activation(x[rows×in] · Wᵀ + bias)`, the PyTorch `nn.Linear` convention (`W` is `[out, in]`).
    ///
    /// `weight` must be immutable while any model uses it: oneDNN keeps a packed copy keyed by its storage. A
    /// weight that does change (a trained parameter) must be announced with `weightsChanged` before its next use.
    /// `parallel: false` keeps the call on one thread (inside loops that are already parallel).
    public static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: Tensor, bias: Tensor?,
        activation: GemmActivation = .none, into y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let outFeatures = weight.shape[0]
        precondition(weight.count == outFeatures * inFeatures, "weight \(weight.shape) is not [\(outFeatures), \(inFeatures)]")
        precondition(bias == nil || bias!.count == outFeatures)
        guard rows > 0, outFeatures > 0 else { return }
        switch GemmBackend.current {
        case .onednn where inFeatures > 0:
            OneDNNGemm.linear(x, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, weight: weight, bias: bias,
                              activation: activation, into: y, parallel: parallel)
        default:
            var beta: Float = 0
            if let bias {
                for r in 0..<rows { (y + r * outFeatures).update(from: bias.data, count: outFeatures) }
                beta = 1
            }
            if parallel {
                gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: weight.data,
                     ldb: inFeatures, beta: beta, c: y, ldc: outFeatures)
            } else {
                gemmSerial(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: weight.data,
                           ldb: inFeatures, beta: beta, c: y, ldc: outFeatures)
            }
            if activation == .gelu {
                if parallel { Kernels.gelu(y, count: rows * outFeatures) } else { Kernels.geluSerial(y, count: rows * outFeatures) }
            }
        }
    }

    /// Forgets every packed copy of `weight`'s storage, so the next `linear` reads its current values. Training calls
    /// this after each optimiser step: without it, oneDNN would keep multiplying by the weights of the first step.
    public static func weightsChanged(_ weight: Tensor) {
        OneDNNPackedWeights.forget(weight.storage)
    }

    /// Cuts C into row blocks (`m ≥ 4·threads`, at least 4 rows each) or, for short and wide products, column
    /// blocks (at least 16 columns each) over `ComputeThreads`, and runs `block(m, n, a, b, c)` for each on the worker
    /// that takes it. Both backends split this way, so they are compared like for like.
    static func split(
        transA: Bool, transB: Bool, m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        block: @Sendable (_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) -> Void
    ) {
        let (pa, pb, pc) = (SendablePointer(a), SendablePointer(b), SendablePointer(c))
        if m >= 4 * ComputeThreads.count {
            // Rows of op(A) are rows of A, or columns of A when transposed.
            let blocks = ComputeThreads.ranges(m, minimum: 4)
            ComputeThreads.parallelFor(blocks.count) { i in
                let r = blocks[i]
                block(r.count, n, transA ? pa.pointer + r.lowerBound : pa.pointer + r.lowerBound * lda, pb.pointer,
                      pc.pointer + r.lowerBound * ldc)
            }
        } else {
            // Columns of op(B) are columns of B, or rows of B when transposed.
            let blocks = ComputeThreads.ranges(n, minimum: 16)
            ComputeThreads.parallelFor(blocks.count) { i in
                let r = blocks[i]
                block(m, r.count, pa.pointer, transB ? pb.pointer + r.lowerBound * ldb : pb.pointer + r.lowerBound,
                      pc.pointer + r.lowerBound)
            }
        }
    }

    /// The instruction set oneDNN runs on this CPU, e.g. "avx512_core_bf16", and its version, for `bench` and `-v`.
    public static var oneDNNDescription: String { "oneDNN \(OneDNN.version), ISA \(OneDNN.isa)" }
}
