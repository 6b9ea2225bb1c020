import CKernels

/// `y = activation(x · Wᵀ + bias)` with an int8 weight (`QuantizedWeight`) and the input quantised per call: the
/// products of the int8 backbones (`Formats/int8.md`, `docs/native-libraries.md` §8).
///
/// Per block of rows: the rows' ranges, their bytes (`Int8ActivationScheme.current`), one oneDNN u8·s8 (or s8·s8)
/// product into int32 (`OneDNNMatmul`, VNNI: four times the multiply-adds per cycle of float32), then one pass
/// that turns each int32 into float32 in place — `(acc − zero_r · Σq_c) · scale_r · scale_c + bias_c` — and the GELU
/// when asked. Threads as for float32 (§7): row blocks over `ComputeThreads`, each block one thread; within a block,
/// chunks of `chunkRows` rows, so a chunk's int32 result is still in L2 when it is rescaled (*measured*, one thread:
/// m = 64 runs the MLP shapes at 460 GOP/s, m = 1214 at 380–440). OpenBLAS has no int8 product: with `--gemm openblas`
/// the int32 sums come from a portable C loop (`ipet_gemm_u8s8s32`), exact like oneDNN's, so both give the same
/// bits; it is the fallback, not fast.
public enum Int8Gemm {
    /// Rows quantised, multiplied and rescaled together (64 × 3072 int32 = 768 kB fits Zen 4's 1 MB L2).
    static let chunkRows = 64

    public static func linear(
        _ x: UnsafePointer<Float>, rows: Int, weight: QuantizedWeight, bias: Tensor?, activation: GemmActivation = .none,
        into y: UnsafeMutablePointer<Float>, parallel: Bool = true
    ) {
        let n = weight.outFeatures, k = weight.inFeatures
        precondition(bias == nil || bias!.count == n)
        guard rows > 0, n > 0 else { return }
        let scheme = Int8ActivationScheme.current
        let backend = GemmBackend.current
        guard k > 0 else {
            for r in 0..<rows {
                if let bias { (y + r * n).update(from: bias.data, count: n) } else { (y + r * n).update(repeating: 0, count: n) }
            }
            if activation == .gelu { Kernels.geluSerial(y, count: rows * n) }
            return
        }
        // Per tensor: one range for all rows, found before the rows are split.
        let range = scheme.isPerRow ? nil : tensorRange(x, rows: rows, cols: k)
        let threads = ComputeThreads.count
        guard parallel, threads > 1, rows >= 4 * threads, rows * n * k >= Gemm.parallelThreshold else {
            return serial(x, rows: rows, weight: weight, bias: bias, activation: activation, into: y, scheme: scheme, range: range,
                          backend: backend)
        }
        let blocks = ComputeThreads.ranges(rows, minimum: 4)
        let (px, py) = (SendablePointer(x), SendablePointer(y))
        ComputeThreads.parallelFor(blocks.count) { i in
            let r = blocks[i]
            serial(px.pointer + r.lowerBound * k, rows: r.count, weight: weight, bias: bias, activation: activation,
                   into: py.pointer + r.lowerBound * n, scheme: scheme, range: range, backend: backend)
        }
    }

    /// One thread: the rows in chunks of `chunkRows`.
    static func serial(
        _ x: UnsafePointer<Float>, rows: Int, weight: QuantizedWeight, bias: Tensor?, activation: GemmActivation,
        into y: UnsafeMutablePointer<Float>, scheme: Int8ActivationScheme, range: (lo: Float, hi: Float)?,
        backend: GemmBackend
    ) {
        let n = weight.outFeatures, k = weight.inFeatures
        let chunk = min(rows, chunkRows)
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: chunk * k, alignment: 64)
        defer { bytes.deallocate() }
        var lo = [Float](repeating: 0, count: chunk), hi = lo, inverse = lo, scale = lo
        var zero = [Int32](repeating: 0, count: chunk)
        let top = scheme.top
        var r0 = 0
        while r0 < rows {
            let m = min(chunk, rows - r0)
            let xc = x + r0 * k
            let yc = y + r0 * n
            if let range {
                let p = scheme.parameters(lo: range.lo, hi: range.hi)
                for r in 0..<m { (scale[r], inverse[r], zero[r]) = p }
            } else {
                ipet_row_range_f32(xc, m, k, k, &lo, &hi)
                for r in 0..<m { (scale[r], inverse[r], zero[r]) = scheme.parameters(lo: lo[r], hi: hi[r]) }
            }
            if scheme.isSigned {
                ipet_quantize_rows_s8(xc, m, k, k, inverse, top, bytes.assumingMemoryBound(to: Int8.self))
            } else {
                ipet_quantize_rows_u8(xc, m, k, k, inverse, zero, top, bytes.assumingMemoryBound(to: UInt8.self))
            }
            let acc = UnsafeMutableRawPointer(yc).assumingMemoryBound(to: Int32.self)
            switch Self.usesOneDNN(backend, scheme) {
            case true:
                let matmul = OneDNNMatmul.cached(.init(
                    m: m, n: n, k: k, aRowStride: k, aColumnStride: 1, bRowStride: 0, bColumnStride: 0, ldc: n,
                    packedWeights: true, bias: false, alpha: 1, beta: 0, activation: .none,
                    operands: .int8(signedSource: scheme.isSigned)))
                let packed = OneDNNPackedWeights.packed(weight, layout: matmul.weightsLayout)
                withExtendedLifetime(packed) { matmul.run(a: bytes, b: nil, packed: packed.memory, bias: nil, c: acc) }
            case false:
                if scheme.isSigned {
                    ipet_gemm_s8s8s32(bytes.assumingMemoryBound(to: Int8.self), m, k, weight.data, n, acc, n)
                } else {
                    ipet_gemm_u8s8s32(bytes.assumingMemoryBound(to: UInt8.self), m, k, weight.data, n, acc, n)
                }
            }
            weight.sums.withUnsafeBufferPointer { sums in
                ipet_rescale_s32(acc, m, n, n, scale, scheme.isSigned ? nil : zero, weight.scales.data, sums.baseAddress,
                                 bias?.data)
            }
            if activation == .gelu { Kernels.geluSerial(yc, count: m * n) }
            r0 += m
        }
    }

    /// Whether the int32 sums come from oneDNN: with `--gemm onednn`, except s8 sources on an ISA without VNNI, where
    /// oneDNN shifts them to u8 by +128 and its 16-bit pair sums saturate whatever their range (*measured* with
    /// `ONEDNN_MAX_CPU_ISA=AVX2`: s8 outputs wrong by up to 0.4 on unit-scale tests, u8 ones exact); the portable
    /// product is exact there.
    static func usesOneDNN(_ backend: GemmBackend, _ scheme: Int8ActivationScheme) -> Bool {
        backend == .onednn && (!scheme.isSigned || OneDNN.hasVNNI)
    }

    /// Smallest and largest value of `x` (`rows × cols`).
    static func tensorRange(_ x: UnsafePointer<Float>, rows: Int, cols: Int) -> (lo: Float, hi: Float) {
        var lo = [Float](repeating: 0, count: rows), hi = lo
        ipet_row_range_f32(x, rows, cols, cols, &lo, &hi)
        // min/max drop NaN; a NaN anywhere makes the range NaN, as per row.
        if lo.contains(where: \.isNaN) || hi.contains(where: \.isNaN) { return (.nan, .nan) }
        return (lo.min() ?? 0, hi.max() ?? 0)
    }
}
