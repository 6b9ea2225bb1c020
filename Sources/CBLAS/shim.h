// OpenBLAS's CBLAS interface. Debian keeps the real header under openblas-pthread/ (pkg-config -I adds it).
#include <cblas.h>
