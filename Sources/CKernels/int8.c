#include "ipet_int8.h"

#include <math.h>
#include <string.h>

// Same dispatch as kernels.c (docs/native-libraries.md §6): x86-64-v4 / v3 / baseline clones chosen from CPUID.
#if defined(__x86_64__) && defined(__clang__)
#define IPET_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IPET_MULTIVERSION
#endif

/// Clamped to [lo, hi]; NaN becomes lo (so the integer conversion after it is always defined).
static inline float clamp_f(float x, float lo, float hi) {
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

IPET_MULTIVERSION
void ipet_quantize_weights_s8(const float *w, size_t rows, size_t cols, int8_t *q, float *scales, int32_t *sums) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float largest = 0.0f;
        for (size_t c = 0; c < cols; c++) {
            float a = fabsf(row[c]);
            largest = a > largest ? a : largest;
        }
        float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
        int8_t *out = q + r * cols;
        int32_t sum = 0;
        for (size_t c = 0; c < cols; c++) {
            float v = clamp_f(rintf(row[c] / scale), -127.0f, 127.0f);
            out[c] = (int8_t)v;
            sum += (int32_t)v;
        }
        scales[r] = scale;
        sums[r] = sum;
    }
}

IPET_MULTIVERSION
void ipet_row_range_f32(const float *x, size_t rows, size_t cols, size_t ldx, float *lo, float *hi) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        // Sixteen lanes so the reductions vectorise without -ffast-math (as ipet_softmax_f32).
        // Comparisons skip NaN, so `bad` sums v − v (0 for finite v, NaN for NaN and ±inf) to mark such rows.
        float mn[16], mx[16], bad[16];
        for (int l = 0; l < 16; l++) { mn[l] = INFINITY; mx[l] = -INFINITY; bad[l] = 0.0f; }
        size_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            for (int l = 0; l < 16; l++) {
                float v = row[c + l];
                mn[l] = v < mn[l] ? v : mn[l];
                mx[l] = v > mx[l] ? v : mx[l];
                bad[l] += v - v;
            }
        }
        for (; c < cols; c++) {
            float v = row[c];
            mn[0] = v < mn[0] ? v : mn[0];
            mx[0] = v > mx[0] ? v : mx[0];
            bad[0] += v - v;
        }
        float a = mn[0], b = mx[0], flag = bad[0];
        for (int l = 1; l < 16; l++) {
            a = mn[l] < a ? mn[l] : a;
            b = mx[l] > b ? mx[l] : b;
            flag += bad[l];
        }
        lo[r] = flag == 0.0f ? a : NAN;
        hi[r] = flag == 0.0f ? b : NAN;
    }
}

IPET_MULTIVERSION
void ipet_quantize_rows_u8(const float *x, size_t rows, size_t cols, size_t ldx, const float *inverse,
                           const int32_t *zero, int32_t top, uint8_t *q) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        const float inv = inverse[r], z = (float)zero[r], t = (float)top;
        uint8_t *out = q + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = rintf(row[c] * inv);
            out[c] = (uint8_t)(int32_t)clamp_f(v + z, 0.0f, t);
        }
    }
}

IPET_MULTIVERSION
void ipet_quantize_rows_s8(const float *x, size_t rows, size_t cols, size_t ldx, const float *inverse, int32_t top,
                           int8_t *q) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * ldx;
        const float inv = inverse[r], t = (float)top;
        int8_t *out = q + r * cols;
        for (size_t c = 0; c < cols; c++) out[c] = (int8_t)(int32_t)clamp_f(rintf(row[c] * inv), -t, t);
    }
}

IPET_MULTIVERSION
void ipet_rescale_s32(int32_t *acc, size_t rows, size_t cols, size_t ld, const float *rowScale, const int32_t *zero,
                      const float *colScale, const int32_t *sums, const float *bias) {
    for (size_t r = 0; r < rows; r++) {
        int32_t *a = acc + r * ld;
        const float s = rowScale[r];
        const int32_t z = zero ? zero[r] : 0;
        // Each float replaces its own accumulator; memcpy keeps the type pun defined (it compiles to a store).
        if (bias) {
            for (size_t c = 0; c < cols; c++) {
                float v = (float)(a[c] - z * sums[c]) * (s * colScale[c]) + bias[c];
                memcpy(&a[c], &v, sizeof v);
            }
        } else {
            for (size_t c = 0; c < cols; c++) {
                float v = (float)(a[c] - z * sums[c]) * (s * colScale[c]);
                memcpy(&a[c], &v, sizeof v);
            }
        }
    }
}

// The portable int8 product (`Int8Gemm` without oneDNN): four rows of A against one weight row at a time, so each
// weight byte is loaded once per four rows; the inner loops are int8·int8 → int32 dot products that clang vectorises
// (pmaddwd / vpdpbusd-free), exact like oneDNN's.
#define IPET_INT8_GEMM(NAME, ATYPE)                                                                                    \
    IPET_MULTIVERSION                                                                                                  \
    void NAME(const ATYPE *a, size_t m, size_t k, const int8_t *w, size_t n, int32_t *c, size_t ldc) {               \
        size_t r = 0;                                                                                                  \
        for (; r + 4 <= m; r += 4) {                                                                                   \
            const ATYPE *a0 = a + r * k, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k;                                     \
            for (size_t o = 0; o < n; o++) {                                                                           \
                const int8_t *wo = w + o * k;                                                                          \
                int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                \
                for (size_t i = 0; i < k; i++) {                                                                       \
                    int32_t v = wo[i];                                                                                 \
                    s0 += (int32_t)a0[i] * v;                                                                          \
                    s1 += (int32_t)a1[i] * v;                                                                          \
                    s2 += (int32_t)a2[i] * v;                                                                          \
                    s3 += (int32_t)a3[i] * v;                                                                          \
                }                                                                                                      \
                c[r * ldc + o] = s0;                                                                                   \
                c[(r + 1) * ldc + o] = s1;                                                                             \
                c[(r + 2) * ldc + o] = s2;                                                                             \
                c[(r + 3) * ldc + o] = s3;                                                                             \
            }                                                                                                          \
        }                                                                                                              \
        for (; r < m; r++) {                                                                                           \
            const ATYPE *ar = a + r * k;                                                                               \
            for (size_t o = 0; o < n; o++) {                                                                           \
                const int8_t *wo = w + o * k;                                                                          \
                int32_t s = 0;                                                                                         \
                for (size_t i = 0; i < k; i++) s += (int32_t)ar[i] * (int32_t)wo[i];                                   \
                c[r * ldc + o] = s;                                                                                    \
            }                                                                                                          \
        }                                                                                                              \
    }

IPET_INT8_GEMM(ipet_gemm_u8s8s32, uint8_t)
IPET_INT8_GEMM(ipet_gemm_s8s8s32, int8_t)
