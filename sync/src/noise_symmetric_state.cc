#include "noise_symmetric_state.h"

#include <sodium.h>

#include <cstring>
#include <utility>

namespace doorstep::sync::internal {
namespace {

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Status SymmetricState::Initialize(std::string_view protocol_name) {
  h_.assign(kHashLen, '\0');
  if (protocol_name.size() <= kHashLen) {
    std::memcpy(h_.data(), protocol_name.data(), protocol_name.size());
  } else {
    Hash2(U(protocol_name), protocol_name.size(), nullptr, 0,
          reinterpret_cast<unsigned char*>(h_.data()));
  }
  ck_ = SecretBytes::Copy(h_.data(), kHashLen);
  if (ck_.empty()) return InternalError("cannot allocate secure memory");
  cipher_.InitializeKey(nullptr);
  return Status::Ok();
}

void SymmetricState::MixHash(std::string_view data) {
  unsigned char out[kHashLen];
  Hash2(U(h_), h_.size(), U(data), data.size(), out);
  std::memcpy(h_.data(), out, kHashLen);
}

void SymmetricState::MixKey(const unsigned char* ikm, size_t ikm_len) {
  unsigned char ck[kHashLen], temp_k[kHashLen];
  Hkdf(ck_.data(), ikm, ikm_len, ck, temp_k, nullptr);
  std::memcpy(ck_.data(), ck, kHashLen);
  cipher_.InitializeKey(temp_k);  // HASHLEN 64: truncated to 32 bytes
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(temp_k, sizeof temp_k);
}

Status SymmetricState::EncryptAndHash(std::string_view plaintext, std::string* out) {
  size_t start = out->size();
  DS_RETURN_IF_ERROR(cipher_.EncryptWithAd(h_, plaintext, out));
  MixHash(std::string_view(*out).substr(start));
  return Status::Ok();
}

Status SymmetricState::DecryptAndHash(std::string_view ciphertext, std::string* out) {
  DS_RETURN_IF_ERROR(cipher_.DecryptWithAd(h_, ciphertext, out));
  MixHash(ciphertext);
  return Status::Ok();
}

void SymmetricState::Split(CipherState* c1, CipherState* c2) {
  unsigned char k1[kHashLen], k2[kHashLen];
  Hkdf(ck_.data(), nullptr, 0, k1, k2, nullptr);
  *c1 = std::move(cipher_);  // reuses the handshake cipher's key buffer
  c1->InitializeKey(k1);
  c2->InitializeKey(k2);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
}

}  // namespace doorstep::sync::internal
