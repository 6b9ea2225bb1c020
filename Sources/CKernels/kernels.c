#include "ipet_kernels.h"

#include <stdint.h>
#include <string.h>

// Three clones, chosen once by the dynamic loader's resolver from CPUID feature bits: x86-64-v4 (AVX-512 F/BW/CD/
// DQ/VL, 16-lane zmm: Intel Skylake-SP and later, AMD Zen 4 and later), x86-64-v3 (AVX2 + FMA, 8-lane ymm) and
// baseline SSE2. Microarchitecture levels, not "arch=haswell": clang's resolver for an arch= clone naming a CPU
// tests the CPU *model* (__builtin_cpu_is), so a "haswell" clone never ran on AMD or on later Intel cores — they
// got the SSE2 one (measured on AMD EPYC: GELU 1.09 ns/element, 0.40 with the v3 clone, 0.32 with v4). The level
// names dispatch on __cpu_features2, i.e. on what the CPU can do.
#if defined(__x86_64__) && defined(__clang__)
#define IPET_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IPET_MULTIVERSION
#endif

static inline float clampf(float x, float lo, float hi) {
    x = x > hi ? hi : x;
    return x < lo ? lo : x;
}

/// exp(x) = 2^n · e^r with n = round(x / ln 2) (the 1.5·2^23 trick), r = x − n·ln 2 (ln 2 split in two), e^r by
/// the Cephes expf polynomial.
static inline float exp_poly(float x) {
    x = clampf(x, -87.3365447504f, 88.3762626647949f);
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * r * r + r + 1.0f;
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    int32_t bits = (ti - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return er * scale;
}

/// erf(x) on [-4, 4] as an odd degree-13 over an even degree-8 polynomial (Eigen/XLA's float32 rational
/// approximation); erf is ±1 in float32 beyond.
static inline float erf_rational(float x) {
    x = clampf(x, -4.0f, 4.0f);
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

IPET_MULTIVERSION
void ipet_gelu_f32(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erf_rational(v * 0.70710678118654752f));
    }
}

IPET_MULTIVERSION
void ipet_gelu_grad_f32(const float *x, float *dy, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erf_rational(v * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * exp_poly(-0.5f * v * v);
        dy[i] *= cdf + v * pdf;
    }
}

IPET_MULTIVERSION
void ipet_exp_f32(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = exp_poly(x[i]);
}

/// Independent lanes for the softmax max and sum: 16 so the reductions fill a zmm register (and two ymm on AVX2)
/// without -ffast-math reassociation.
#define SOFTMAX_LANES 16

IPET_MULTIVERSION
void ipet_softmax_f32(float *x, size_t n) {
    if (n == 0) return;
    float mv[SOFTMAX_LANES], sv[SOFTMAX_LANES];
    size_t i = 0;
    for (int j = 0; j < SOFTMAX_LANES; j++) mv[j] = x[0];
    for (; i + SOFTMAX_LANES <= n; i += SOFTMAX_LANES)
        for (int j = 0; j < SOFTMAX_LANES; j++) mv[j] = x[i + j] > mv[j] ? x[i + j] : mv[j];
    float m = mv[0];
    for (int j = 1; j < SOFTMAX_LANES; j++) m = mv[j] > m ? mv[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int j = 0; j < SOFTMAX_LANES; j++) sv[j] = 0.0f;
    for (i = 0; i + SOFTMAX_LANES <= n; i += SOFTMAX_LANES)
        for (int j = 0; j < SOFTMAX_LANES; j++) {
            float e = exp_poly(x[i + j] - m);
            x[i + j] = e;
            sv[j] += e;
        }
    float sum = 0.0f;
    for (int j = 0; j < SOFTMAX_LANES; j++) sum += sv[j];
    for (; i < n; i++) {
        float e = exp_poly(x[i] - m);
        x[i] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (i = 0; i < n; i++) x[i] *= inv;
}
