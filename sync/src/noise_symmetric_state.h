// SymmetricState (Noise specification rev 34, section 5.2) for BLAKE2b:
// the chaining key ck, the handshake hash h and a CipherState.
// Private to doorstep_sync. Ownership: owns ck (SecretBytes) and its
// CipherState. Thread safety: not thread-safe.
#ifndef DOORSTEP_SYNC_NOISE_SYMMETRIC_STATE_H_
#define DOORSTEP_SYNC_NOISE_SYMMETRIC_STATE_H_

#include <string>
#include <string_view>

#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/noise_cipher_state.h"
#include "noise_primitives.h"

namespace doorstep::sync::internal {

class SymmetricState {
 public:
  // InitializeSymmetric(protocol_name). kInternal if secure memory cannot
  // be allocated.
  Status Initialize(std::string_view protocol_name);

  // h = HASH(h || data).
  void MixHash(std::string_view data);
  // ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k[0..32)).
  void MixKey(const unsigned char* ikm, size_t ikm_len);
  bool HasKey() const { return cipher_.HasKey(); }

  // Appends EncryptWithAd(h, plaintext) to *out, then MixHash(ciphertext).
  Status EncryptAndHash(std::string_view plaintext, std::string* out);
  // Appends DecryptWithAd(h, ciphertext) to *out, then MixHash(ciphertext).
  // kDataLoss on authentication failure.
  Status DecryptAndHash(std::string_view ciphertext, std::string* out);

  // Split(): c1 (initiator to responder) and c2 (responder to initiator).
  void Split(CipherState* c1, CipherState* c2);

  // The handshake hash h (64 bytes).
  const std::string& h() const { return h_; }

 private:
  SecretBytes ck_;
  std::string h_;
  CipherState cipher_;
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_NOISE_SYMMETRIC_STATE_H_
