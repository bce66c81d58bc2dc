// XChaCha20-Poly1305 with the bytes of libsodium's
// crypto_aead_xchacha20poly1305_ietf, computed as the construction defines
// it: subkey = HChaCha20(key, nonce[0..16]) (libsodium), then IETF
// ChaCha20-Poly1305 under the subkey with the 12-byte nonce
// 0x00000000 || nonce[16..24], done by OpenSSL's EVP (AVX-512/AVX2 code on
// x86-64, much faster than libsodium's for record-sized values).
//
// ChaChaPolyContext owns one EVP_CIPHER_CTX and so one key schedule;
// EVP_CIPHER_CTX_free cleanses it. Thread safety: none; one thread at a time.
#ifndef DOORSTEP_CORE_AEAD_INTERNAL_H_
#define DOORSTEP_CORE_AEAD_INTERNAL_H_

#include <cstddef>

#include "doorstep/core/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace doorstep::core::internal {

inline constexpr size_t kSubkeyNonceBytes = 16;  // the HChaCha20 input
inline constexpr size_t kIetfNonceBytes = 12;

// subkey = HChaCha20(key, nonce16). `subkey` and `key` are 32 bytes.
void DeriveXChaChaSubkey(const unsigned char* key, const unsigned char* nonce16,
                         unsigned char* subkey);
// The IETF nonce the XChaCha20 construction uses: 0^4 || nonce24[16..24].
void IetfNonceFrom(const unsigned char* nonce24, unsigned char* ietf_nonce12);

class ChaChaPolyContext {
 public:
  ChaChaPolyContext() = default;
  ~ChaChaPolyContext();
  ChaChaPolyContext(const ChaChaPolyContext&) = delete;
  ChaChaPolyContext& operator=(const ChaChaPolyContext&) = delete;

  // Allocates the OpenSSL context for sealing (encrypt) or opening. kInternal
  // if OpenSSL cannot.
  Status Init(bool encrypt);
  bool initialized() const { return ctx_ != nullptr; }

  // Keys the context (32 bytes) for calls that pass key nullptr. kInternal
  // if OpenSSL fails.
  Status SetKey(const unsigned char* key);

  // Seals `n` bytes of `in` into `out` (n bytes) and `tag` (16 bytes) under
  // the 32-byte `key` (nullptr: the key of the previous call) and the 12-byte
  // `nonce`. kInternal if OpenSSL fails.
  Status Seal(const unsigned char* key, const unsigned char* nonce, const unsigned char* ad,
              size_t ad_len, const unsigned char* in, size_t n, unsigned char* out,
              unsigned char* tag);
  // Opens: writes n bytes of plaintext to `out` and checks `tag` (in
  // constant time, inside OpenSSL). kDataLoss if the tag does not match (the
  // caller must then wipe `out`), kInternal if OpenSSL fails otherwise.
  Status Open(const unsigned char* key, const unsigned char* nonce, const unsigned char* ad,
              size_t ad_len, const unsigned char* in, size_t n, const unsigned char* tag,
              unsigned char* out);

 private:
  Status Start(const unsigned char* key, const unsigned char* nonce, const unsigned char* ad,
               size_t ad_len);
  // Feeds `n` bytes through the context in pieces EVP's int lengths can take:
  // associated data when `out` is nullptr, else text into `out` (n bytes).
  // kInternal naming `what` if OpenSSL fails.
  Status Update(const unsigned char* in, size_t n, unsigned char* out, const char* what);
  EVP_CIPHER_CTX* ctx_ = nullptr;
  bool encrypt_ = true;
};

}  // namespace doorstep::core::internal

#endif  // DOORSTEP_CORE_AEAD_INTERNAL_H_
