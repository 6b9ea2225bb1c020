#include "ipet_peak.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Twelve named accumulators rather than an array, so every chain lives in a register at any optimisation level.
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) static double peak_avx512(long iterations, float *sink) {
    const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
#define INIT(i) __m512 x##i = _mm512_set1_ps((float)(i));
    CHAINS(INIT)
#undef INIT
    for (long n = 0; n < iterations; n++) {
#define STEP(i) x##i = _mm512_fmadd_ps(x##i, a, b);
        CHAINS(STEP)
#undef STEP
    }
    __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, x##i);
    CHAINS(SUM)
#undef SUM
    *sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double peak_avx2(long iterations, float *sink) {
    const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
#define INIT(i) __m256 x##i = _mm256_set1_ps((float)(i));
    CHAINS(INIT)
#undef INIT
    for (long n = 0; n < iterations; n++) {
#define STEP(i) x##i = _mm256_fmadd_ps(x##i, a, b);
        CHAINS(STEP)
#undef STEP
    }
    __m256 s = _mm256_setzero_ps();
#define SUM(i) s = _mm256_add_ps(s, x##i);
    CHAINS(SUM)
#undef SUM
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    float total = 0;
    for (int j = 0; j < 8; j++) total += lanes[j];
    *sink = total;
    return (double)iterations * 12 * 8 * 2;
}

static double peak_sse(long iterations, float *sink) {
    const __m128 a = _mm_set1_ps(0.9999999f), b = _mm_set1_ps(1e-7f);
#define INIT(i) __m128 x##i = _mm_set1_ps((float)(i));
    CHAINS(INIT)
#undef INIT
    for (long n = 0; n < iterations; n++) {
#define STEP(i) x##i = _mm_add_ps(_mm_mul_ps(x##i, a), b);
        CHAINS(STEP)
#undef STEP
    }
    __m128 s = _mm_setzero_ps();
#define SUM(i) s = _mm_add_ps(s, x##i);
    CHAINS(SUM)
#undef SUM
    float lanes[4];
    _mm_storeu_ps(lanes, s);
    *sink = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    return (double)iterations * 12 * 4 * 2;
}

const char *ipet_fma_peak_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
    return "none";
}

double ipet_fma_peak(long iterations, float *sink) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return peak_avx512(iterations, sink);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return peak_avx2(iterations, sink);
    return peak_sse(iterations, sink);
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
