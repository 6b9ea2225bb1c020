#include <soxr.h>

// soxr's quality recipes are macros Swift cannot see.
static inline unsigned long shim_SOXR_HQ(void) { return SOXR_HQ; }
static inline unsigned long shim_SOXR_VHQ(void) { return SOXR_VHQ; }
static inline unsigned shim_SOXR_FLOAT32_I(void) { return SOXR_FLOAT32_I; }
