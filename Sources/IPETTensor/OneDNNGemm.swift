/// The oneDNN backend (`docs/native-libraries.md` §7): every product is one cached matmul primitive run on
/// oneDNN's OpenMP threads — `ComputeThreads.count` of them from the calling thread, one inside our own parallel
/// loops — so the two pools never run at once.
enum OneDNNGemm {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        guard k > 0 else { return scale(c, rows: m, columns: n, ldc: ldc, by: beta) }
        let key = OneDNNMatmul.Key(
            m: m, n: n, k: k,
            aRowStride: transA ? 1 : lda, aColumnStride: transA ? lda : 1,
            bRowStride: transB ? 1 : ldb, bColumnStride: transB ? ldb : 1,
            ldc: ldc, packedWeights: false, bias: false, alpha: alpha, beta: beta, activation: .none, threads: threads)
        OneDNNMatmul.cached(key).run(a: a, b: b, packed: nil, bias: nil, c: c)
    }

    /// `y = activation(x · Wᵀ + bias)` with `W` packed once (`OneDNNPackedWeights`) and bias and activation fused.
    static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int, weight: Tensor, bias: Tensor?,
        activation: GemmActivation, into y: UnsafeMutablePointer<Float>, threads: Int
    ) {
        let key = OneDNNMatmul.Key(
            m: rows, n: outFeatures, k: inFeatures, aRowStride: inFeatures, aColumnStride: 1, bRowStride: 0, bColumnStride: 0,
            ldc: outFeatures, packedWeights: true, bias: bias != nil, alpha: 1, beta: 0, activation: activation, threads: threads)
        let matmul = OneDNNMatmul.cached(key)
        let packed = OneDNNPackedWeights.packed(weight, outFeatures: outFeatures, inFeatures: inFeatures,
                                                layout: matmul.weightsLayout, threads: threads)
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
