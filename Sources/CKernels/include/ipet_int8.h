#ifndef IPET_INT8_H
#define IPET_INT8_H

#include <stddef.h>
#include <stdint.h>

/// Kernels of the int8 products (`Sources/IPETTensor/Int8Gemm.swift`, `Formats/int8.md`): quantising weights and
/// activations, and turning the int32 accumulators oneDNN returns into float32. Plain C loops that clang
/// auto-vectorises, multi-versioned like `ipet_kernels.h` (AVX-512, AVX2+FMA, baseline). Rounding is
/// round-half-to-even (`rintf` in the default rounding mode); each quantised value is rint(x · inverse scale), a
/// single rounded product, so a test can repeat the arithmetic exactly.

/// Per-output-channel symmetric quantisation of a row-major weight `[rows, cols]`: for each row,
/// scale = max|w| / 127 (1 for an all-zero row), q = clamp(rint(w / scale), -127, 127), and sum = Σ q (used to
/// correct for the activations' zero point).
void ipet_quantize_weights_s8(const float *w, size_t rows, size_t cols, int8_t *q, float *scales, int32_t *sums);

/// Smallest and largest value of each row of `x` (`rows` rows of `cols` values, row stride `ldx`); both NaN for a row
/// holding a NaN or an infinity.
void ipet_row_range_f32(const float *x, size_t rows, size_t cols, size_t ldx, float *lo, float *hi);

/// q[r][c] = clamp(rint(x[r][c] · inverse[r]) + zero[r], 0, top) as unsigned bytes (`cols` per row, packed).
void ipet_quantize_rows_u8(const float *x, size_t rows, size_t cols, size_t ldx, const float *inverse,
                           const int32_t *zero, int32_t top, uint8_t *q);

/// q[r][c] = clamp(rint(x[r][c] · inverse[r]), -top, top) as signed bytes (`cols` per row, packed).
void ipet_quantize_rows_s8(const float *x, size_t rows, size_t cols, size_t ldx, const float *inverse, int32_t top,
                           int8_t *q);

/// In place, int32 accumulators → float32 (the same 4 bytes): y[r][c] = (acc[r][c] − zero[r]·sums[c]) ·
/// (rowScale[r] · colScale[c]) + bias[c]. `zero` and `bias` may be NULL (no zero point, no bias). Rows have stride
/// `ld` elements.
void ipet_rescale_s32(int32_t *acc, size_t rows, size_t cols, size_t ld, const float *rowScale, const int32_t *zero,
                      const float *colScale, const int32_t *sums, const float *bias);

/// c[r][o] = Σ_i a[r][i] · w[o][i] in int32 (exact), for `m` rows of `k` unsigned bytes against a row-major
/// `[n, k]` int8 weight; rows of c have stride `ldc`. The portable product, used when oneDNN is not (`--gemm openblas`).
void ipet_gemm_u8s8s32(const uint8_t *a, size_t m, size_t k, const int8_t *w, size_t n, int32_t *c, size_t ldc);

/// The same with signed bytes.
void ipet_gemm_s8s8s32(const int8_t *a, size_t m, size_t k, const int8_t *w, size_t n, int32_t *c, size_t ldc);

#endif
