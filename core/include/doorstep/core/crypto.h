// Sealing and key wrapping: the only cryptography core/ does.
//
// Sealer seals values with XChaCha20-Poly1305: exactly the bytes of
// libsodium's crypto_aead_xchacha20poly1305_ietf, computed as HChaCha20
// (libsodium) plus OpenSSL's IETF ChaCha20-Poly1305 for speed (docs/store.md).
// Its 24-byte nonce is a 16-byte random
// prefix drawn once per Sealer plus a 64-bit little-endian counter, so sealing
// costs no system call and no nonce repeats: within a Sealer the counter never
// repeats, and across Sealers (reopens, devices) the 128-bit prefixes collide
// with negligible probability. A sealed value is nonce(24) || ciphertext || tag(16).
// The associated data binds a ciphertext to where it belongs (record id, type,
// revision); opening with different associated data fails with kDataLoss.
//
// Key wrapping: the data key is sealed by a key-encryption key (KEK) derived
// from a passphrase (Argon2id), from a 32-byte platform-keystore key, or from
// both (BLAKE2b over both, so neither alone opens the store).
//
// Thread safety: Seal, Reserve and Open are all safe concurrently. The
// counter is atomic; sealing and opening each take one of a small pool of
// locked cipher contexts.
// Key material: the key, the sealing subkey and every cipher context's key
// schedule are wiped when the Sealer is destroyed.
#ifndef DOORSTEP_CORE_CRYPTO_H_
#define DOORSTEP_CORE_CRYPTO_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"

namespace doorstep::core {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 24;
inline constexpr size_t kSealTagBytes = 16;
inline constexpr size_t kSealOverhead = kSealNonceBytes + kSealTagBytes;

class Sealer;

// One nonce reserved from a Sealer's counter, for one seal by that Sealer
// (Sealer::Reserve, SealTo). AddMany reserves its records' nonces in record
// order, whichever thread then seals them, so the sealed bytes do not depend
// on which thread sealed what. Move-only and used once: a nonce cannot be
// sealed with twice, nor by another Sealer.
class SealTicket {
 public:
  SealTicket() = default;
  SealTicket(SealTicket&& o) noexcept : owner_(o.owner_), n_(o.n_) { o.owner_ = nullptr; }
  SealTicket& operator=(SealTicket&& o) noexcept {
    owner_ = o.owner_;
    n_ = o.n_;
    o.owner_ = nullptr;
    return *this;
  }
  SealTicket(const SealTicket&) = delete;
  SealTicket& operator=(const SealTicket&) = delete;
  bool valid() const { return owner_ != nullptr; }

 private:
  friend class Sealer;
  SealTicket(const void* owner, uint64_t n) : owner_(owner), n_(n) {}
  const void* owner_ = nullptr;  // the Sealer's engine it was reserved from
  uint64_t n_ = 0;
};

class Sealer {
 public:
  // Takes ownership of a 32-byte key; draws the nonce prefix from `random`.
  // Fails with kInvalidArgument if the key is not 32 bytes.
  static Result<Sealer> Create(SecretBytes key, Random& random);

  Sealer(Sealer&&) noexcept;
  Sealer& operator=(Sealer&&) noexcept;
  ~Sealer();

  // Returns nonce || ciphertext || tag. Fails with kResourceExhausted if the
  // 2^64 counter is exhausted, kInternal if OpenSSL fails.
  Result<std::string> Seal(std::string_view plaintext, std::string_view ad);
  // As Seal, into `*out` (resized; its capacity is reused, so a caller
  // sealing many values in turn allocates once). On failure `*out` is
  // cleared. A sealed value is not secret: `*out` needs no wiping.
  Status SealTo(std::string_view plaintext, std::string_view ad, std::string* out);
  // Reserves the next nonce (kResourceExhausted if the counter is exhausted).
  Result<SealTicket> Reserve();
  // As SealTo, with the nonce of `ticket`, which it takes (so uses up,
  // whatever it returns). kFailedPrecondition if the ticket is empty or
  // another Sealer's.
  Status SealTo(SealTicket ticket, std::string_view plaintext, std::string_view ad, std::string* out);
  // Returns the plaintext, or kDataLoss if `sealed` is too short, was
  // tampered with, or was sealed with other associated data or another key;
  // kInternal if OpenSSL fails.
  Result<std::string> Open(std::string_view sealed, std::string_view ad) const;

  const SecretBytes& key() const { return key_; }

 private:
  struct Engine;  // OpenSSL contexts and subkeys (crypto.cc)
  Sealer(SecretBytes key, const unsigned char prefix[16], std::unique_ptr<Engine> engine);
  SecretBytes key_;
  unsigned char prefix_[16] = {};
  std::unique_ptr<Engine> engine_;  // the counter too (atomic, so not movable itself)
};

enum class KdfProfile { kInteractive, kModerate };

// Argon2id parameters stored beside a wrapped key.
struct KdfParams {
  std::string salt;           // crypto_pwhash_SALTBYTES bytes
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
  int alg = 0;                // crypto_pwhash_ALG_ARGON2ID13
};

// Fresh parameters for `profile` with a random salt.
KdfParams NewKdfParams(KdfProfile profile, Random& random);
// Checks stored parameters before use (off disk: bounded, known algorithm);
// kCorruption if they are not sane.
Status CheckKdfParams(const KdfParams& params);

// Argon2id(passphrase, params) → 32-byte KEK. kResourceExhausted if the
// machine cannot supply the memory; kCorruption for bad parameters.
Result<SecretBytes> DeriveKeyFromPassphrase(std::string_view passphrase, const KdfParams& params);

// Combines the available KEK sources into the KEK that wraps the data key:
// passphrase-only and keystore-only use their key; both together use
// BLAKE2b-256 keyed with the keystore key over the passphrase key, under a
// domain-separation label. kInvalidArgument if neither is given or a key is
// not 32 bytes.
Result<SecretBytes> CombineKek(const SecretBytes* passphrase_key, const SecretBytes* keystore_key);

// Seals `data_key` under `kek` (XChaCha20-Poly1305, random nonce) with `ad`.
Result<std::string> WrapKey(const SecretBytes& kek, const SecretBytes& data_key,
                            std::string_view ad, Random& random);
// Opens a wrapped key; kUnauthenticated when the KEK is wrong (or the blob
// was altered: the two cannot be told apart), kCorruption if malformed.
Result<SecretBytes> UnwrapKey(const SecretBytes& kek, std::string_view wrapped, std::string_view ad);

// A new random 32-byte key.
SecretBytes RandomKey(Random& random);

// BLAKE2b-256 of `data`, as 32 raw bytes (hash chains, code hashes).
std::string Blake2b256(std::string_view data, std::string_view key = {});

// Lower-case hex and back; FromHex fails with kInvalidArgument on bad input.
std::string ToHex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_CRYPTO_H_
