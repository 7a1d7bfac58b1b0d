#ifndef DAXRIG_CCRYPTO_SHIM_H
#define DAXRIG_CCRYPTO_SHIM_H
/* Only the digest API: content hashes of tarballs, trees and cache keys. */
#include <openssl/evp.h>
#endif
