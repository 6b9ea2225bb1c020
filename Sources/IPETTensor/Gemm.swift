import CBLAS

/// Row-major single-precision matrix multiplication through OpenBLAS:
/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op` transposes when asked.
///
/// Leading dimensions are the row strides of the matrices as stored (A is `m×k` or, transposed, `k×m`).
/// `gemm` splits the work into row blocks (or column blocks when `m` is small) over `ComputeThreads`;
/// `gemmSerial` runs one single-threaded BLAS call, for use inside loops that are already parallel.
public enum Gemm {
    public static func gemmSerial(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Below this many multiply-adds a split costs more than it saves.
    static let parallelThreshold = 1 << 18

    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        let threads = ComputeThreads.count
        if threads == 1 || m * n * k < parallelThreshold {
            gemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
            return
        }
        let (pa, pb, pc) = (SendablePointer(a), SendablePointer(b), SendablePointer(c))
        if m >= 4 * threads {
            // Row blocks of C: rows of op(A) are rows of A, or columns of A when transposed.
            let blocks = ComputeThreads.ranges(m, minimum: 4)
            ComputeThreads.parallelFor(blocks.count) { i in
                let r = blocks[i]
                let aBlock = transA ? pa.pointer + r.lowerBound : pa.pointer + r.lowerBound * lda
                gemmSerial(transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha, a: aBlock, lda: lda,
                           b: pb.pointer, ldb: ldb, beta: beta, c: pc.pointer + r.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Column blocks of C: columns of op(B) are columns of B, or rows of B when transposed.
            let blocks = ComputeThreads.ranges(n, minimum: 16)
            ComputeThreads.parallelFor(blocks.count) { i in
                let r = blocks[i]
                let bBlock = transB ? pb.pointer + r.lowerBound * ldb : pb.pointer + r.lowerBound
                gemmSerial(transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha, a: pa.pointer, lda: lda,
                           b: bBlock, ldb: ldb, beta: beta, c: pc.pointer + r.lowerBound, ldc: ldc)
            }
        }
    }

    /// `y[rows×out] = x[rows×in] · Wᵀ + bias`, the PyTorch `nn.Linear` convention (`W` is `[out, in]`).
    public static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: Tensor, bias: Tensor?,
        into y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let outFeatures = weight.shape[0]
        precondition(weight.count == outFeatures * inFeatures, "weight \(weight.shape) is not [\(outFeatures), \(inFeatures)]")
        var beta: Float = 0
        if let bias {
            precondition(bias.count == outFeatures)
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
    }
}
