#include "doorstep/sync/noise_cipher_state.h"

#include <sodium.h>

#include <cstring>
#include <limits>

namespace doorstep::sync {
namespace {

constexpr uint64_t kReservedNonce = std::numeric_limits<uint64_t>::max();

// 96-bit IETF nonce: 32 zero bits, then n little-endian.
void MakeNonce(uint64_t n, unsigned char out[crypto_aead_chacha20poly1305_ietf_NPUBBYTES]) {
  std::memset(out, 0, 4);
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<unsigned char>(n >> (8 * i));
}

}  // namespace

void CipherState::InitializeKey(const unsigned char* key) {
  n_ = 0;
  if (key == nullptr) {
    Clear();
    return;
  }
  if (k_.size() != crypto_aead_chacha20poly1305_ietf_KEYBYTES) {
    k_ = SecretBytes(crypto_aead_chacha20poly1305_ietf_KEYBYTES);
  }
  has_key_ = true;  // even if allocation failed: never fall back to plaintext
  if (k_.empty()) return;
  std::memcpy(k_.data(), key, k_.size());
}

void CipherState::Clear() {
  k_.Reset();
  has_key_ = false;
}

Status CipherState::EncryptWithAd(std::string_view ad, std::string_view plaintext,
                                  std::string* out) {
  if (!has_key_) {
    out->append(plaintext);
    return Status::Ok();
  }
  if (k_.empty()) return InternalError("cipher key could not be allocated");
  if (n_ == kReservedNonce) return ResourceExhaustedError("Noise nonce space exhausted");
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  MakeNonce(n_, nonce);
  size_t old = out->size();
  out->resize(old + plaintext.size() + kNoiseTagBytes);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out->data()) + old, &written,
      reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce, k_.data());
  ++n_;
  return Status::Ok();
}

Status CipherState::DecryptWithAd(std::string_view ad, std::string_view ciphertext,
                                  std::string* out) {
  if (!has_key_) {
    out->append(ciphertext);
    return Status::Ok();
  }
  if (k_.empty()) return InternalError("cipher key could not be allocated");
  if (n_ == kReservedNonce) return ResourceExhaustedError("Noise nonce space exhausted");
  if (ciphertext.size() < kNoiseTagBytes) {
    return DataLossError("Noise ciphertext shorter than its tag");
  }
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  MakeNonce(n_, nonce);
  size_t old = out->size();
  out->resize(old + ciphertext.size() - kNoiseTagBytes);
  unsigned long long written = 0;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out->data()) + old, &written, nullptr,
          reinterpret_cast<const unsigned char*>(ciphertext.data()), ciphertext.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce, k_.data()) != 0) {
    out->resize(old);
    return DataLossError("Noise message failed authentication");
  }
  ++n_;
  return Status::Ok();
}

void CipherState::Rekey() {
  if (!has_key_ || k_.empty()) return;
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  MakeNonce(kReservedNonce, nonce);
  unsigned char zeros[32] = {};
  unsigned char buf[32 + kNoiseTagBytes];
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(buf, &written, zeros, sizeof zeros, nullptr, 0,
                                            nullptr, nonce, k_.data());
  std::memcpy(k_.data(), buf, 32);
  sodium_memzero(buf, sizeof buf);
}

}  // namespace doorstep::sync
