#include "doorstep/core/crypto.h"

#include <sodium.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>

#include "aead_internal.h"

namespace doorstep::core {
namespace {

constexpr char kCombineLabel[] = "doorstep.kek.v1.passphrase+keystore";

}  // namespace

// The sealing subkey and contexts are fixed for the Sealer's life: every
// nonce it makes starts with prefix_, and HChaCha20 reads only those 16
// bytes. Sealing takes one of two contexts, each under a mutex. Opening
// takes one of a few slots, each a context under a mutex; a slot remembers
// the prefix its context is keyed for, so opening many values of one
// session (one prefix) derives the subkey once.
struct Sealer::Engine {
  struct OpenSlot {
    std::mutex mu;
    internal::ChaChaPolyContext ctx;
    SecretBytes subkey;  // allocated on first use: HChaCha20 of another prefix
    unsigned char keyed_prefix[internal::kSubkeyNonceBytes] = {};
    bool keyed = false;
  };
  struct SealSlot {
    std::mutex mu;
    internal::ChaChaPolyContext ctx;  // keyed with seal_subkey at Create
  };
  static constexpr int kOpenSlots = 4;
  // Two: AddMany seals on two threads at once.
  static constexpr int kSealSlots = 2;
  SecretBytes seal_subkey;  // HChaCha20(key, prefix_)
  std::atomic<uint64_t> counter{0};  // the next nonce's counter; UINT64_MAX: exhausted
  SealSlot seal[kSealSlots];
  OpenSlot slots[kOpenSlots];
};

namespace {

// A free slot of `slots` if there is one, else the first, waited for.
template <typename Slot, int N>
std::unique_lock<std::mutex> TakeSlot(Slot (&slots)[N], Slot** slot) {
  for (Slot& s : slots) {
    std::unique_lock<std::mutex> l(s.mu, std::try_to_lock);
    if (l.owns_lock()) {
      *slot = &s;
      return l;
    }
  }
  *slot = &slots[0];
  return std::unique_lock<std::mutex>(slots[0].mu);
}

}  // namespace

Sealer::Sealer(SecretBytes key, const unsigned char prefix[16], std::unique_ptr<Engine> engine)
    : key_(std::move(key)), engine_(std::move(engine)) {
  std::memcpy(prefix_, prefix, sizeof prefix_);
}

Sealer::Sealer(Sealer&&) noexcept = default;
Sealer& Sealer::operator=(Sealer&&) noexcept = default;
Sealer::~Sealer() = default;  // SecretBytes wipe; EVP_CIPHER_CTX_free cleanses

Result<Sealer> Sealer::Create(SecretBytes key, Random& random) {
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    return InvalidArgumentError("sealing key must be 32 bytes");
  }
  unsigned char prefix[16];
  random.Fill(prefix, sizeof prefix);
  auto engine = std::make_unique<Engine>();
  engine->seal_subkey = SecretBytes(kKeyBytes);
  if (engine->seal_subkey.empty()) return ResourceExhaustedError("cannot allocate secure memory");
  internal::DeriveXChaChaSubkey(key.data(), prefix, engine->seal_subkey.data());
  for (Engine::SealSlot& slot : engine->seal) {
    DS_RETURN_IF_ERROR(slot.ctx.Init(/*encrypt=*/true));
    DS_RETURN_IF_ERROR(slot.ctx.SetKey(engine->seal_subkey.data()));
  }
  return Sealer(std::move(key), prefix, std::move(engine));
}

Result<std::string> Sealer::Seal(std::string_view plaintext, std::string_view ad) {
  std::string out;
  DS_RETURN_IF_ERROR(SealTo(plaintext, ad, &out));
  return out;
}

Status Sealer::SealTo(std::string_view plaintext, std::string_view ad, std::string* out) {
  out->clear();
  DS_ASSIGN_OR_RETURN(SealTicket ticket, Reserve());
  return SealTo(std::move(ticket), plaintext, ad, out);
}

Result<SealTicket> Sealer::Reserve() {
  if (engine_ == nullptr) return FailedPreconditionError("sealer was moved from");
  uint64_t n = engine_->counter.load(std::memory_order_relaxed);
  do {
    if (n == UINT64_MAX) return ResourceExhaustedError("sealer nonce counter exhausted");
  } while (!engine_->counter.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return SealTicket(engine_.get(), n);
}

Status Sealer::SealTo(SealTicket ticket, std::string_view plaintext, std::string_view ad, std::string* out) {
  out->clear();
  if (engine_ == nullptr) return FailedPreconditionError("sealer was moved from");
  if (ticket.owner_ != engine_.get()) return FailedPreconditionError("seal ticket is empty or another sealer's");
  const uint64_t n = ticket.n_;
  out->resize(kSealNonceBytes + plaintext.size() + kSealTagBytes);
  auto* nonce = reinterpret_cast<unsigned char*>(out->data());
  std::memcpy(nonce, prefix_, 16);
  for (int i = 0; i < 8; ++i) nonce[16 + i] = static_cast<unsigned char>(n >> (8 * i));
  unsigned char ietf_nonce[internal::kIetfNonceBytes];
  internal::IetfNonceFrom(nonce, ietf_nonce);
  unsigned char* ct = nonce + kSealNonceBytes;
  // Each context was keyed with the sealing subkey at Create: only the nonce changes.
  Engine::SealSlot* slot = nullptr;
  std::unique_lock<std::mutex> lock = TakeSlot(engine_->seal, &slot);
  Status s = slot->ctx.Seal(
      nullptr, ietf_nonce, reinterpret_cast<const unsigned char*>(ad.data()),
      ad.size(), reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), ct,
      ct + plaintext.size());
  if (!s.ok()) out->clear();
  return s;
}

Result<std::string> Sealer::Open(std::string_view sealed, std::string_view ad) const {
  if (sealed.size() < kSealOverhead) return DataLossError("sealed value too short");
  if (engine_ == nullptr) return FailedPreconditionError("sealer was moved from");
  // A free slot if there is one; otherwise wait for the first.
  Engine::OpenSlot* slot = nullptr;
  std::unique_lock<std::mutex> lock = TakeSlot(engine_->slots, &slot);
  DS_RETURN_IF_ERROR(slot->ctx.Init(/*encrypt=*/false));

  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  const unsigned char* subkey = nullptr;  // nullptr: the context is keyed for this prefix
  if (!slot->keyed || std::memcmp(slot->keyed_prefix, in, internal::kSubkeyNonceBytes) != 0) {
    if (std::memcmp(in, prefix_, internal::kSubkeyNonceBytes) == 0) {
      subkey = engine_->seal_subkey.data();
    } else {
      if (slot->subkey.empty()) slot->subkey = SecretBytes(kKeyBytes);
      if (slot->subkey.empty()) return ResourceExhaustedError("cannot allocate secure memory");
      internal::DeriveXChaChaSubkey(key_.data(), in, slot->subkey.data());
      subkey = slot->subkey.data();
    }
    slot->keyed = false;
  }
  unsigned char ietf_nonce[internal::kIetfNonceBytes];
  internal::IetfNonceFrom(in, ietf_nonce);
  const size_t n = sealed.size() - kSealOverhead;
  std::string out(n, '\0');
  Status s = slot->ctx.Open(subkey, ietf_nonce, reinterpret_cast<const unsigned char*>(ad.data()),
                            ad.size(), in + kSealNonceBytes, n, in + kSealNonceBytes + n,
                            reinterpret_cast<unsigned char*>(out.data()));
  if (subkey != nullptr && (s.ok() || s.code() == StatusCode::kDataLoss)) {
    std::memcpy(slot->keyed_prefix, in, internal::kSubkeyNonceBytes);
    slot->keyed = true;
  }
  if (!s.ok()) {
    sodium_memzero(out.data(), out.size());
    return s;
  }
  return out;
}

KdfParams NewKdfParams(KdfProfile profile, Random& random) {
  KdfParams p;
  p.salt.resize(crypto_pwhash_SALTBYTES);
  random.Fill(p.salt.data(), p.salt.size());
  p.alg = crypto_pwhash_ALG_ARGON2ID13;
  if (profile == KdfProfile::kModerate) {
    p.opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
    p.memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
  } else {
    p.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  }
  return p;
}

Status CheckKdfParams(const KdfParams& p) {
  if (p.salt.size() != crypto_pwhash_SALTBYTES) return CorruptionError("KDF salt has the wrong size");
  if (p.alg != crypto_pwhash_ALG_ARGON2ID13) return CorruptionError("KDF algorithm is not Argon2id");
  if (p.opslimit < crypto_pwhash_OPSLIMIT_MIN || p.opslimit > 64) {
    return CorruptionError("KDF opslimit out of range");
  }
  // Between libsodium's minimum and 4 GiB: a file cannot make us allocate more.
  if (p.memlimit < crypto_pwhash_MEMLIMIT_MIN || p.memlimit > (4ULL << 30)) {
    return CorruptionError("KDF memlimit out of range");
  }
  return Status::Ok();
}

Result<SecretBytes> DeriveKeyFromPassphrase(std::string_view passphrase, const KdfParams& params) {
  DS_RETURN_IF_ERROR(CheckKdfParams(params));
  SecretBytes key(kKeyBytes);
  if (key.empty()) return ResourceExhaustedError("cannot allocate secure memory");
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(),
                    reinterpret_cast<const unsigned char*>(params.salt.data()), params.opslimit,
                    static_cast<size_t>(params.memlimit), params.alg) != 0) {
    return ResourceExhaustedError("Argon2id could not get the memory it needs");
  }
  return key;
}

Result<SecretBytes> CombineKek(const SecretBytes* passphrase_key, const SecretBytes* keystore_key) {
  if (passphrase_key != nullptr && passphrase_key->size() != kKeyBytes) {
    return InvalidArgumentError("passphrase key must be 32 bytes");
  }
  if (keystore_key != nullptr && keystore_key->size() != kKeyBytes) {
    return InvalidArgumentError("keystore key must be 32 bytes");
  }
  if (passphrase_key == nullptr && keystore_key == nullptr) {
    return InvalidArgumentError("no key source: give a passphrase, a keystore key, or both");
  }
  if (keystore_key == nullptr) return passphrase_key->Clone();
  if (passphrase_key == nullptr) return keystore_key->Clone();
  SecretBytes kek(kKeyBytes);
  crypto_generichash_state st;
  crypto_generichash_init(&st, keystore_key->data(), keystore_key->size(), kek.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kCombineLabel),
                            sizeof kCombineLabel - 1);
  crypto_generichash_update(&st, passphrase_key->data(), passphrase_key->size());
  crypto_generichash_final(&st, kek.data(), kek.size());
  sodium_memzero(&st, sizeof st);
  return kek;
}

Result<std::string> WrapKey(const SecretBytes& kek, const SecretBytes& data_key,
                            std::string_view ad, Random& random) {
  if (kek.size() != kKeyBytes) return InvalidArgumentError("KEK must be 32 bytes");
  // A one-off sealer: a random prefix and counter 0 make a random nonce.
  DS_ASSIGN_OR_RETURN(Sealer sealer, Sealer::Create(kek.Clone(), random));
  return sealer.Seal(std::string_view(reinterpret_cast<const char*>(data_key.data()), data_key.size()), ad);
}

Result<SecretBytes> UnwrapKey(const SecretBytes& kek, std::string_view wrapped, std::string_view ad) {
  if (wrapped.size() != kSealOverhead + kKeyBytes) return CorruptionError("wrapped key has the wrong size");
  if (kek.size() != kKeyBytes) return InvalidArgumentError("KEK must be 32 bytes");
  SecretBytes out(kKeyBytes);
  const auto* in = reinterpret_cast<const unsigned char*>(wrapped.data());
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &mlen, nullptr, in + kSealNonceBytes,
                                                 wrapped.size() - kSealNonceBytes,
                                                 reinterpret_cast<const unsigned char*>(ad.data()),
                                                 ad.size(), in, kek.data()) != 0) {
    return UnauthenticatedError("the key does not open this store");
  }
  return out;
}

SecretBytes RandomKey(Random& random) {
  SecretBytes k(kKeyBytes);
  random.Fill(k.data(), k.size());
  return k;
}

std::string Blake2b256(std::string_view data, std::string_view key) {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                     key.size());
  return out;
}

std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgumentError("hex string has an odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("not a hex string");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace doorstep::core
