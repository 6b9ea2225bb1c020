import CDNNL
import CKernels

/// Products with bfloat16 inputs and float32 accumulation and output, for the attention score and value products of
/// an int8 backbone (`docs/native-libraries.md` §9).
///
/// Why only there: the bar for int8 is accuracy no worse than PyTorch's dynamic int8, and the two attention
/// products are the largest float32 part left in an int8 model (about 40 % of an int8 AST forward, `perf` with
/// oneDNN's symbol map). bfloat16 keeps float32's exponent range with 8 significant bits, so `q·kᵀ` and `p·v` lose
/// about as much as the int8 projections already do, while CPUs with bf16 dot products (`vdpbf16ps`: AVX512_BF16,
/// AMX) run them at twice the float32 rate. *Measured* (C harness, one thread, oneDNN 2.6 brgemm, AMD EPYC Zen 4):
/// 1214×1214×64 182–214 vs 98–102 GFLOP/s, 1214×64×1214 230 vs 118, 128-row blocks 201–226 vs 105–117.
public enum BFloat16Gemm {
    /// Whether bfloat16 products run natively here: the oneDNN backend on a CPU whose ISA oneDNN reports with bf16
    /// dot products. Elsewhere (AVX2, AVX-512 without BF16, `--gemm openblas`) oneDNN would emulate them slower than
    /// float32, so callers keep float32.
    public static var isNative: Bool { GemmBackend.current == .onednn && OneDNN.hasBF16 }

    /// `C[m×n] = A[m×k] · B[k×n]` on this thread, A and B bfloat16 described by element strides, C float32 with row
    /// stride `ldc`. Only when `isNative`.
    public static func gemmSerial(
        m: Int, n: Int, k: Int, a: UnsafePointer<UInt16>, aRowStride: Int, aColumnStride: Int = 1,
        b: UnsafePointer<UInt16>, bRowStride: Int, bColumnStride: Int = 1, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(isNative, "bfloat16 products need oneDNN on a CPU with bf16 dot products")
        guard m > 0, n > 0, k > 0 else { return }
        let key = OneDNNMatmul.Key(
            m: m, n: n, k: k, aRowStride: aRowStride, aColumnStride: aColumnStride, bRowStride: bRowStride,
            bColumnStride: bColumnStride, ldc: ldc, packedWeights: false, bias: false, alpha: 1, beta: 0, activation: .none,
            operands: .bfloat16)
        OneDNNMatmul.cached(key).run(a: a, b: b, packed: nil, bias: nil, c: c)
    }

    /// `dst = bf16(scale · src)` for a `rows × cols` block with row stride `ld`, written contiguously (ties to even).
    public static func convert(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float = 1,
                               into dst: UnsafeMutablePointer<UInt16>) {
        ipet_f32_to_bf16_rows(src, rows, cols, ld, scale, dst)
    }

    /// `dst = float(bf16(scale · src))`: the same rounding kept in float32, so a float32 product of such values is
    /// the bfloat16 product up to summation order (how the path is exercised on CPUs without bf16).
    public static func round(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, scale: Float = 1,
                             into dst: UnsafeMutablePointer<Float>) {
        ipet_f32_round_bf16_rows(src, rows, cols, ld, scale, dst)
    }
}
