#include "ipet_bf16.h"

#include <string.h>

// Multi-versioned like the other element-wise kernels (kernels.c says why the clones are microarchitecture levels).
#if defined(__x86_64__) && defined(__clang__)
#define IPET_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IPET_MULTIVERSION
#endif

/// The bfloat16 bits of x, rounded to nearest even: add 0x7FFF plus the lowest kept bit, keep the upper half.
/// A NaN gets its quiet bit set instead, so rounding can never carry it into an infinity.
static inline uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (uint16_t)(((u & 0x7FFFFFFFu) > 0x7F800000u) ? nan : rounded);
}

IPET_MULTIVERSION
void ipet_f32_to_bf16_rows(const float *src, size_t rows, size_t cols, size_t ld, float scale, uint16_t *dst) {
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * cols;
        for (size_t c = 0; c < cols; c++) d[c] = bf16_bits(scale * s[c]);
    }
}

IPET_MULTIVERSION
void ipet_f32_round_bf16_rows(const float *src, size_t rows, size_t cols, size_t ld, float scale, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        float *d = dst + r * cols;
        for (size_t c = 0; c < cols; c++) {
            uint32_t u = (uint32_t)bf16_bits(scale * s[c]) << 16;
            memcpy(d + c, &u, 4);
        }
    }
}
