#include "noise_primitives.h"

#include <sodium.h>

namespace doorstep::sync::internal {

Status Dh(const unsigned char private_key[kDhLen], const unsigned char public_key[kDhLen],
          unsigned char out[kDhLen]) {
  // libsodium returns -1 when the shared secret is all zeros.
  if (crypto_scalarmult(out, private_key, public_key) != 0) {
    sodium_memzero(out, kDhLen);
    return DataLossError("Diffie-Hellman with the peer's key gave an all-zero secret");
  }
  return Status::Ok();
}

void Hash2(const unsigned char* a, size_t a_len, const unsigned char* b, size_t b_len,
           unsigned char out[kHashLen]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  if (a_len > 0) crypto_generichash_update(&st, a, a_len);
  if (b_len > 0) crypto_generichash_update(&st, b, b_len);
  crypto_generichash_final(&st, out, kHashLen);
  sodium_memzero(&st, sizeof st);
}

void HmacHash(const unsigned char key[kHashLen], const unsigned char* data1, size_t len1,
              const unsigned char* data2, size_t len2, unsigned char out[kHashLen]) {
  unsigned char pad[kBlockLen];
  unsigned char inner[kHashLen];
  crypto_generichash_state st;

  // Inner: HASH((K ^ ipad) || data). K is 64 bytes, zero-padded to the block.
  for (size_t i = 0; i < kBlockLen; ++i) pad[i] = (i < kHashLen ? key[i] : 0) ^ 0x36;
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, kBlockLen);
  if (len1 > 0) crypto_generichash_update(&st, data1, len1);
  if (len2 > 0) crypto_generichash_update(&st, data2, len2);
  crypto_generichash_final(&st, inner, kHashLen);

  // Outer: HASH((K ^ opad) || inner).
  for (size_t i = 0; i < kBlockLen; ++i) pad[i] = (i < kHashLen ? key[i] : 0) ^ 0x5c;
  crypto_generichash_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_update(&st, pad, kBlockLen);
  crypto_generichash_update(&st, inner, kHashLen);
  crypto_generichash_final(&st, out, kHashLen);

  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner, sizeof inner);
  sodium_memzero(&st, sizeof st);
}

void Hkdf(const unsigned char chaining_key[kHashLen], const unsigned char* ikm, size_t ikm_len,
          unsigned char out1[kHashLen], unsigned char out2[kHashLen], unsigned char* out3) {
  unsigned char temp_key[kHashLen];
  HmacHash(chaining_key, ikm, ikm_len, nullptr, 0, temp_key);
  const unsigned char one = 0x01, two = 0x02, three = 0x03;
  HmacHash(temp_key, &one, 1, nullptr, 0, out1);
  HmacHash(temp_key, out1, kHashLen, &two, 1, out2);
  if (out3 != nullptr) HmacHash(temp_key, out2, kHashLen, &three, 1, out3);
  sodium_memzero(temp_key, sizeof temp_key);
}

}  // namespace doorstep::sync::internal
