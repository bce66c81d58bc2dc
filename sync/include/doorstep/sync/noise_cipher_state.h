// CipherState (Noise specification rev 34, section 5.1) for ChaChaPoly:
// a 32-byte key k (or none) and a 64-bit nonce n. ENCRYPT is libsodium's
// crypto_aead_chacha20poly1305_ietf with the 96-bit nonce = 4 zero bytes ||
// n as 64-bit little-endian. Without a key, Encrypt/Decrypt pass data through.
//
// The nonce value 2^64-1 is reserved: once n reaches it, EncryptWithAd and
// DecryptWithAd fail with kResourceExhausted (the session must end).
//
// Ownership: owns its key (SecretBytes, wiped on destruction). Move-only.
// Thread safety: not thread-safe; one owner uses it at a time.
#ifndef DOORSTEP_SYNC_NOISE_CIPHER_STATE_H_
#define DOORSTEP_SYNC_NOISE_CIPHER_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"

namespace doorstep::sync {

inline constexpr size_t kNoiseTagBytes = 16;
inline constexpr size_t kNoiseMaxMessageBytes = 65535;

class CipherState {
 public:
  CipherState() = default;
  CipherState(CipherState&&) noexcept = default;
  CipherState& operator=(CipherState&&) noexcept = default;

  // Sets k = key[0..32) and n = 0; key == nullptr clears the key (empty).
  void InitializeKey(const unsigned char* key);
  bool HasKey() const { return has_key_; }
  void SetNonce(uint64_t n) { n_ = n; }
  uint64_t nonce() const { return n_; }

  // Appends ENCRYPT(k, n++, ad, plaintext) (plaintext + 16-byte tag) to *out,
  // or the plaintext itself if there is no key. kResourceExhausted if n is
  // 2^64-1 (nothing appended).
  Status EncryptWithAd(std::string_view ad, std::string_view plaintext, std::string* out);
  // Appends the plaintext of `ciphertext` to *out and increments n; with no
  // key, appends `ciphertext` unchanged. kDataLoss if authentication fails or
  // the ciphertext is shorter than the tag (n unchanged, nothing appended);
  // kResourceExhausted if n is 2^64-1.
  Status DecryptWithAd(std::string_view ad, std::string_view ciphertext, std::string* out);

  // REKEY (spec 4.2): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]).
  // REQUIRES: HasKey().
  void Rekey();

  // Wipes the key; the state becomes empty.
  void Clear();

 private:
  SecretBytes k_;
  bool has_key_ = false;
  uint64_t n_ = 0;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_NOISE_CIPHER_STATE_H_
