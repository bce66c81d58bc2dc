#include "aead_internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <climits>
#include <cstring>
#include <string>

namespace doorstep::core::internal {
namespace {

constexpr size_t kTagBytes = 16;
// EVP takes int lengths: longer inputs go in pieces of this size.
constexpr size_t kMaxPiece = size_t{1} << 30;

// Fetched once (thread-safe static init) and kept for the process: an
// implicit fetch inside every EVP_*Init_ex would cost a lookup per call.
const EVP_CIPHER* Cipher() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

}  // namespace

void DeriveXChaChaSubkey(const unsigned char* key, const unsigned char* nonce16,
                         unsigned char* subkey) {
  crypto_core_hchacha20(subkey, nonce16, key, nullptr);
}

void IetfNonceFrom(const unsigned char* nonce24, unsigned char* ietf_nonce12) {
  std::memset(ietf_nonce12, 0, 4);
  std::memcpy(ietf_nonce12 + 4, nonce24 + kSubkeyNonceBytes, 8);
}

ChaChaPolyContext::~ChaChaPolyContext() { EVP_CIPHER_CTX_free(ctx_); }  // cleanses the key

Status ChaChaPolyContext::Init(bool encrypt) {
  if (ctx_ != nullptr) return Status::Ok();
  const EVP_CIPHER* cipher = Cipher();
  if (cipher == nullptr) return InternalError("OpenSSL has no ChaCha20-Poly1305");
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr) return InternalError("OpenSSL cannot allocate a cipher context");
  encrypt_ = encrypt;
  if (EVP_CipherInit_ex(ctx_, cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kIetfNonceBytes),
                          nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = nullptr;
    return InternalError("OpenSSL cannot set up ChaCha20-Poly1305");
  }
  return Status::Ok();
}

Status ChaChaPolyContext::SetKey(const unsigned char* key) {
  if (ctx_ == nullptr) return InternalError("cipher context not initialised");
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, key, nullptr, encrypt_ ? 1 : 0) != 1) {
    return InternalError("OpenSSL ChaCha20-Poly1305 key setup failed");
  }
  return Status::Ok();
}

Status ChaChaPolyContext::Start(const unsigned char* key, const unsigned char* nonce,
                                const unsigned char* ad, size_t ad_len) {
  if (ctx_ == nullptr) return InternalError("cipher context not initialised");
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, key, nonce, encrypt_ ? 1 : 0) != 1) {
    return InternalError("OpenSSL ChaCha20-Poly1305 init failed");
  }
  return Update(ad, ad_len, nullptr, "associated data");
}

Status ChaChaPolyContext::Update(const unsigned char* in, size_t n, unsigned char* out,
                                 const char* what) {
  for (size_t off = 0; off < n; off += kMaxPiece) {
    const size_t piece = n - off < kMaxPiece ? n - off : kMaxPiece;
    int len = 0;
    if (EVP_CipherUpdate(ctx_, out == nullptr ? nullptr : out + off, &len, in + off,
                         static_cast<int>(piece)) != 1 ||
        (out != nullptr && static_cast<size_t>(len) != piece)) {
      return InternalError(std::string("OpenSSL ChaCha20-Poly1305 ") + what + " failed");
    }
  }
  return Status::Ok();
}

Status ChaChaPolyContext::Seal(const unsigned char* key, const unsigned char* nonce,
                               const unsigned char* ad, size_t ad_len, const unsigned char* in,
                               size_t n, unsigned char* out, unsigned char* tag) {
  if (!encrypt_) return InternalError("cipher context is for opening");
  DS_RETURN_IF_ERROR(Start(key, nonce, ad, ad_len));
  DS_RETURN_IF_ERROR(Update(in, n, out, "encryption"));
  int len = 0;
  // The tag through the parameter API directly (the ctrl call wraps it).
  OSSL_PARAM get_tag[2] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagBytes),
      OSSL_PARAM_construct_end()};
  if (EVP_EncryptFinal_ex(ctx_, out + n, &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_get_params(ctx_, get_tag) != 1) {
    return InternalError("OpenSSL ChaCha20-Poly1305 could not finish");
  }
  return Status::Ok();
}

Status ChaChaPolyContext::Open(const unsigned char* key, const unsigned char* nonce,
                               const unsigned char* ad, size_t ad_len, const unsigned char* in,
                               size_t n, const unsigned char* tag, unsigned char* out) {
  if (encrypt_) return InternalError("cipher context is for sealing");
  DS_RETURN_IF_ERROR(Start(key, nonce, ad, ad_len));
  DS_RETURN_IF_ERROR(Update(in, n, out, "decryption"));
  int len = 0;
  // EVP copies the tag in and compares it in constant time in Final.
  OSSL_PARAM set_tag[2] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                        const_cast<unsigned char*>(tag), kTagBytes),
      OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(ctx_, set_tag) != 1) {
    return InternalError("OpenSSL ChaCha20-Poly1305 cannot take the tag");
  }
  if (EVP_DecryptFinal_ex(ctx_, out + n, &len) != 1) {
    return DataLossError("sealed value failed authentication");
  }
  return Status::Ok();
}

}  // namespace doorstep::core::internal
