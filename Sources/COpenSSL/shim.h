// OpenSSL's libcrypto, for SHA-256 (backbone fingerprints).
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

// OPENSSL_VERSION is a macro; this returns the version text ("OpenSSL 3.0.x ...").
static inline const char *shim_openssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
