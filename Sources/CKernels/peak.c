#include "ipet_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Twelve named accumulators rather than an array, so every chain lives in a register at any optimisation level.
// CHAINS(X, ...) expands X(i, ...) for i = 0 ... 11.
#define CHAINS(X, ...) X(0, __VA_ARGS__) X(1, __VA_ARGS__) X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(4, __VA_ARGS__) \
    X(5, __VA_ARGS__) X(6, __VA_ARGS__) X(7, __VA_ARGS__) X(8, __VA_ARGS__) X(9, __VA_ARGS__) X(10, __VA_ARGS__) \
    X(11, __VA_ARGS__)
#define PEAK_INIT(i, VEC, SET1) VEC x##i = SET1((float)(i));
#define PEAK_STEP(i, MULADD) x##i = MULADD(x##i, a, b);
#define PEAK_SUM(i, ADD) s = ADD(s, x##i);

/// One loop per vector width, the same code: `LANES` floats per `VEC`, `SET1` broadcasts, `MULADD` is x·a + b (a fused
/// multiply-add where the CPU has one), `ADD` and `STORE` make a result that depends on every chain.
#define PEAK_KERNEL(NAME, TARGET, VEC, LANES, SET1, MULADD, ADD, STORE)                                        \
    TARGET static double NAME(long iterations, float *sink) {                                                  \
        const VEC a = SET1(0.9999999f), b = SET1(1e-7f);                                                      \
        CHAINS(PEAK_INIT, VEC, SET1)                                                                           \
        for (long n = 0; n < iterations; n++) { CHAINS(PEAK_STEP, MULADD) }                                   \
        VEC s = SET1(0.0f);                                                                                    \
        CHAINS(PEAK_SUM, ADD)                                                                                  \
        float lanes[LANES], total = 0;                                                                         \
        STORE(lanes, s);                                                                                       \
        for (int j = 0; j < LANES; j++) total += lanes[j];                                                     \
        *sink = total;                                                                                         \
        return (double)iterations * 12 * LANES * 2;                                                            \
    }

static inline __m128 sse_muladd(__m128 x, __m128 a, __m128 b) { return _mm_add_ps(_mm_mul_ps(x, a), b); }

PEAK_KERNEL(peak_avx512, __attribute__((target("avx512f"))), __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps,
            _mm512_add_ps, _mm512_storeu_ps)
PEAK_KERNEL(peak_avx2, __attribute__((target("avx2,fma"))), __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
            _mm256_storeu_ps)
PEAK_KERNEL(peak_sse, , __m128, 4, _mm_set1_ps, sse_muladd, _mm_add_ps, _mm_storeu_ps)

/// The widest loop this CPU runs: 2 = AVX-512, 1 = AVX2 + FMA, 0 = SSE.
static int widest(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

const char *ipet_fma_peak_isa(void) {
    static const char *names[] = {"none", "avx2+fma", "avx512f"};
    return names[widest()];
}

double ipet_fma_peak(long iterations, float *sink) {
    switch (widest()) {
    case 2: return peak_avx512(iterations, sink);
    case 1: return peak_avx2(iterations, sink);
    default: return peak_sse(iterations, sink);
    }
}

#else

const char *ipet_fma_peak_isa(void) { return "none"; }

double ipet_fma_peak(long iterations, float *sink) {
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i;
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < 12; i++) x[i] = x[i] * 0.9999999f + 1e-7f;
    float total = 0;
    for (int i = 0; i < 12; i++) total += x[i];
    *sink = total;
    return (double)iterations * 12 * 2;
}

#endif
