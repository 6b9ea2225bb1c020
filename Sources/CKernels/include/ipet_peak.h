#ifndef IPET_PEAK_H
#define IPET_PEAK_H

/// The widest float32 fused multiply-add this CPU runs ("avx512f", "avx2+fma" or "none": SSE multiply and add).
const char *ipet_fma_peak_isa(void);

/// `iterations` rounds of 12 independent chains x ← x·a + b in registers, in the widest vectors `ipet_fma_peak_isa`
/// names: no memory traffic, enough chains to cover the FMA latency on every core we know (4 cycles, 2 ports), so the
/// time is the core's float32 arithmetic peak. Returns the float32 operations done (2 per lane per FMA); `sink`
/// receives a value that depends on every chain, so the loop cannot be optimised away.
double ipet_fma_peak(long iterations, float *sink);

#endif
