#ifndef IPET_BF16_H
#define IPET_BF16_H

#include <stddef.h>
#include <stdint.h>

/// bfloat16 conversions for the attention products of an int8 backbone (`docs/native-libraries.md` §9): a bfloat16
/// is the upper half of a float32's bits (8 exponent bits, 7 stored mantissa bits). Rounding is to nearest, ties to
/// even, as oneDNN's and PyTorch's conversions round; a NaN stays a (quiet) NaN.

/// dst[r·cols + c] = bf16(scale · src[r·ld + c]) for a rows × cols block of a row-major matrix with row stride `ld`,
/// written contiguously. `dst` may overlap `src` when `ld == cols` (in place: each element is read before its
/// half-size result is stored at or below it).
void ipet_f32_to_bf16_rows(const float *src, size_t rows, size_t cols, size_t ld, float scale, uint16_t *dst);

/// The same rounding kept in float32: dst[r·cols + c] = float(bf16(scale · src[r·ld + c])). A float32 product of such
/// values is what a bfloat16 product with float32 accumulation computes, up to the order of the sums.
void ipet_f32_round_bf16_rows(const float *src, size_t rows, size_t cols, size_t ld, float scale, float *dst);

#endif
