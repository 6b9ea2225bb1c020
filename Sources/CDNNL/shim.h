// oneDNN's C API (Debian's libdnnl-dev 2.6, OpenMP runtime: libgomp). No pkg-config file ships with it; the header
// is on the default include path and the module map links "dnnl" (and "gomp" for the two calls below).
#include <oneapi/dnnl/dnnl.h>

// The OpenMP runtime that executes oneDNN's parallel regions. GCC's <omp.h> sits in GCC's private include
// directory, which Swift's clang does not search, so the two calls we need are declared here (OpenMP 5.1 §3.2).
// The thread count is a per-thread setting (nthreads-var ICV): each thread that calls oneDNN sets its own.
int omp_get_max_threads(void);
void omp_set_num_threads(int n);

// DNNL_MEMORY_ALLOCATE is a pointer-cast macro, which Swift cannot import.
static inline void *ipet_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
