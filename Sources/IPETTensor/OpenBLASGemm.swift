import CBLAS

/// The OpenBLAS backend (`docs/native-libraries.md` §2): single-threaded `cblas_sgemm`, and for large products our
/// own split of C into row blocks (or column blocks when `m` is small) over `ComputeThreads`.
enum OpenBLASGemm {
    static func serial(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    static func parallel(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let threads = ComputeThreads.count
        if threads == 1 || m * n * k < Gemm.parallelThreshold {
            serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
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
                serial(transA: transA, transB: transB, m: r.count, n: n, k: k, alpha: alpha, a: aBlock, lda: lda,
                       b: pb.pointer, ldb: ldb, beta: beta, c: pc.pointer + r.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Column blocks of C: columns of op(B) are columns of B, or rows of B when transposed.
            let blocks = ComputeThreads.ranges(n, minimum: 16)
            ComputeThreads.parallelFor(blocks.count) { i in
                let r = blocks[i]
                let bBlock = transB ? pb.pointer + r.lowerBound * ldb : pb.pointer + r.lowerBound
                serial(transA: transA, transB: transB, m: m, n: r.count, k: k, alpha: alpha, a: pa.pointer, lda: lda,
                       b: bBlock, ldb: ldb, beta: beta, c: pc.pointer + r.lowerBound, ldc: ldc)
            }
        }
    }
}
