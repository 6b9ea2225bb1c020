#include <fftw3.h>

// fftwf_version is an array of unknown size, which Swift does not import; this returns it.
static inline const char *shim_fftwf_version(void) { return fftwf_version; }
