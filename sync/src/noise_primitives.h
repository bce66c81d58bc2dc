// The Noise primitives for Noise_*_25519_ChaChaPoly_BLAKE2b (Noise
// specification rev 34, sections 4 and 12): DH over Curve25519, BLAKE2b-512
// as HASH, HMAC-BLAKE2b and HKDF built on it. Private to doorstep_sync.
// Thread safety: pure functions.
#ifndef DOORSTEP_SYNC_NOISE_PRIMITIVES_H_
#define DOORSTEP_SYNC_NOISE_PRIMITIVES_H_

#include <cstddef>
#include <cstdint>

#include "doorstep/core/status.h"

namespace doorstep::sync::internal {

inline constexpr size_t kDhLen = 32;      // DHLEN
inline constexpr size_t kHashLen = 64;    // HASHLEN (BLAKE2b-512)
inline constexpr size_t kBlockLen = 128;  // BLOCKLEN (BLAKE2b)
inline constexpr size_t kKeyLen = 32;     // cipher key
inline constexpr size_t kTagLen = 16;     // AEAD tag

// out[32] = X25519(private_key, public_key). Returns kDataLoss when the
// result is all zeros (a low-order or invalid public key).
Status Dh(const unsigned char private_key[kDhLen], const unsigned char public_key[kDhLen],
          unsigned char out[kDhLen]);

// out[64] = BLAKE2b-512(a || b); b may be empty.
void Hash2(const unsigned char* a, size_t a_len, const unsigned char* b, size_t b_len,
           unsigned char out[kHashLen]);

// out[64] = HMAC-BLAKE2b(key[64], data1 || data2) per RFC 2104 with a
// 128-byte block. Intermediate values are wiped.
void HmacHash(const unsigned char key[kHashLen], const unsigned char* data1, size_t len1,
              const unsigned char* data2, size_t len2, unsigned char out[kHashLen]);

// Noise HKDF(chaining_key, ikm, 2 or 3 outputs): each output is 64 bytes.
// out3 may be null (two outputs).
void Hkdf(const unsigned char chaining_key[kHashLen], const unsigned char* ikm, size_t ikm_len,
          unsigned char out1[kHashLen], unsigned char out2[kHashLen], unsigned char* out3);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_NOISE_PRIMITIVES_H_
