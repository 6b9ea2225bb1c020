// OpenSSL's libcrypto, for SHA-256 (backbone fingerprints).
#include <openssl/evp.h>
#include <openssl/sha.h>
