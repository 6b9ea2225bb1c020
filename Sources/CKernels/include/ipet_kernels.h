#ifndef IPET_KERNELS_H
#define IPET_KERNELS_H

#include <stddef.h>

/// Element-wise float32 kernels that must vectorise whatever the build flags: written as plain C loops that
/// clang auto-vectorises, compiled three times (AVX-512, AVX2+FMA and baseline) and chosen at run time by the CPU
/// (function multi-versioning), so no tuning flag is needed in Package.swift.

/// x[i] = 0.5 x[i] (1 + erf(x[i] / sqrt 2)), exact-erf GELU; erf by a rational approximation (|error| < 1e-6).
void ipet_gelu_f32(float *x, size_t n);

/// dy[i] *= GELU'(x[i]) = Φ(x) + x·φ(x) (exact-erf GELU: Φ the standard normal CDF, φ its density), the
/// derivative PyTorch's GeluBackward uses; erf and exp as in the forward kernels.
void ipet_gelu_grad_f32(const float *x, float *dy, size_t n);

/// Softmax of one row in place: exp(x - max) / sum. exp by range reduction and a degree-6 polynomial.
void ipet_softmax_f32(float *x, size_t n);

/// y[i] = exp(x[i]) for x in [-87, 88] (relative error < 3e-7); out of range inputs clamp.
void ipet_exp_f32(const float *x, float *y, size_t n);

#endif
