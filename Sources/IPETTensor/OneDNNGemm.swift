/// The oneDNN backend (`docs/native-libraries.md` §7): cached one-thread matmul primitives, and for large products
/// the same split as the OpenBLAS backend — row blocks of C (column blocks when `m` is small) over `ComputeThreads`,
/// each block one primitive call on the worker that runs it.
///
/// Why our threads and not oneDNN's OpenMP team: libgomp's team threads spin for a while after every parallel
/// region (OMP_WAIT_POLICY unset), so each element-wise loop our pool ran between two GEMMs found a core taken by a
/// spinning thread. *Measured* (AST 10.24 s, 2 threads, release): 21.5 s for 4 files with oneDNN's team of two
/// vs 10.7 s on OpenBLAS, 9.8 s with OMP_WAIT_POLICY=passive; running our loops on the OpenMP team instead
/// (GOMP_parallel) tied with this split when the machine was quiet and lost by 2–23 % when it was shared; a GEMM
/// split here reaches the same GFLOP/s as oneDNN's own threading (`ipet bench gemm`).
enum OneDNNGemm {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool
    ) {
        guard k > 0 else { return scale(c, rows: m, columns: n, ldc: ldc, by: beta) }
        let threads = ComputeThreads.count
        guard parallel, threads > 1, m * n * k >= Gemm.parallelThreshold else {
            return serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc)
        }
        Gemm.split(transA: transA, transB: transB, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) { m, n, a, b, c in
            serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta,
                   c: c, ldc: ldc)
        }
    }

    /// One primitive call on this thread; A, B and C described by strides, B unpacked.
    private static func serial(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let key = OneDNNMatmul.Key(
            m: m, n: n, k: k,
            aRowStride: transA ? 1 : lda, aColumnStride: transA ? lda : 1,
            bRowStride: transB ? 1 : ldb, bColumnStride: transB ? ldb : 1,
            ldc: ldc, packedWeights: false, bias: false, alpha: alpha, beta: beta, activation: .none)
        OneDNNMatmul.cached(key).run(a: a, b: b, packed: nil, bias: nil, c: c)
    }

    /// `y = activation(x · Wᵀ + bias)` with `W` packed once (`OneDNNPackedWeights`) and bias and activation fused,
    /// in row blocks over `ComputeThreads` when large. Blocks are equal to within a row, so they share one or two
    /// primitives; the packed layout does not depend on the row count (checked for m = 1 … 2428 on the model shapes),
    /// so each weight is packed once.
    static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int, weight: Tensor, bias: Tensor?,
        activation: GemmActivation, into y: UnsafeMutablePointer<Float>, parallel: Bool
    ) {
        let threads = ComputeThreads.count
        guard parallel, threads > 1, rows >= 4 * threads, rows * outFeatures * inFeatures >= Gemm.parallelThreshold else {
            return linearSerial(x, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, weight: weight, bias: bias,
                                activation: activation, into: y)
        }
        let blocks = ComputeThreads.ranges(rows, minimum: 4)
        let (px, py) = (SendablePointer(x), SendablePointer(y))
        ComputeThreads.parallelFor(blocks.count) { i in
            let r = blocks[i]
            linearSerial(px.pointer + r.lowerBound * inFeatures, rows: r.count, inFeatures: inFeatures, outFeatures: outFeatures,
                         weight: weight, bias: bias, activation: activation, into: py.pointer + r.lowerBound * outFeatures)
        }
    }

    private static func linearSerial(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int, weight: Tensor, bias: Tensor?,
        activation: GemmActivation, into y: UnsafeMutablePointer<Float>
    ) {
        let key = OneDNNMatmul.Key(
            m: rows, n: outFeatures, k: inFeatures, aRowStride: inFeatures, aColumnStride: 1, bRowStride: 0, bColumnStride: 0,
            ldc: outFeatures, packedWeights: true, bias: bias != nil, alpha: 1, beta: 0, activation: activation)
        let matmul = OneDNNMatmul.cached(key)
        let packed = OneDNNPackedWeights.packed(weight, outFeatures: outFeatures, inFeatures: inFeatures, layout: matmul.weightsLayout)
        withExtendedLifetime(packed) {
            matmul.run(a: x, b: nil, packed: packed.memory, bias: bias?.data, c: y)
        }
    }

    /// `C ← beta·C` for an empty inner dimension (BLAS semantics; oneDNN rejects k = 0).
    private static func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by beta: Float) {
        for r in 0..<rows {
            let row = c + r * ldc
            for j in 0..<columns { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
    }
}
