#include "doorstep/sync/noise_handshake.h"

#include <sodium.h>

#include <utility>

#include "noise_primitives.h"
#include "noise_symmetric_state.h"

namespace doorstep::sync {
namespace {

using internal::kDhLen;

enum class Token : unsigned char { kE, kS, kEE, kES, kSE, kSS };

// A handshake pattern (spec section 7): pre-messages, who holds a static key,
// and up to three message patterns, alternating from the initiator.
struct PatternDef {
  HandshakePattern pattern;
  const char* name;
  bool initiator_pre_s;   // "-> s" before "..."
  bool responder_pre_s;   // "<- s" before "..."
  bool initiator_static;  // the initiator has s
  bool responder_static;  // the responder has s
  int num_messages;
  int num_tokens[3];
  Token tokens[3][4];
};

using T = Token;
constexpr PatternDef kPatterns[] = {
    {HandshakePattern::kNN, "NN", false, false, false, false, 2, {1, 2, 0},
     {{T::kE}, {T::kE, T::kEE}, {}}},
    {HandshakePattern::kKK, "KK", true, true, true, true, 2, {3, 3, 0},
     {{T::kE, T::kES, T::kSS}, {T::kE, T::kEE, T::kSE}, {}}},
    {HandshakePattern::kIK, "IK", false, true, true, true, 2, {4, 3, 0},
     {{T::kE, T::kES, T::kS, T::kSS}, {T::kE, T::kEE, T::kSE}, {}}},
    {HandshakePattern::kXX, "XX", false, false, true, true, 3, {1, 4, 2},
     {{T::kE}, {T::kE, T::kEE, T::kS, T::kES}, {T::kS, T::kSE}}},
};

const PatternDef& Def(HandshakePattern p) {
  for (const PatternDef& d : kPatterns) {
    if (d.pattern == p) return d;
  }
  return kPatterns[3];
}

constexpr std::string_view kSuffix = "_25519_ChaChaPoly_BLAKE2b";

bool ValidKeyPair(const KeyPair& kp) {
  return kp.private_key.size() == kPrivateKeyBytes && kp.public_key.size() == kPublicKeyBytes;
}

}  // namespace

Result<HandshakePattern> PatternFromProtocolName(std::string_view name) {
  for (const PatternDef& d : kPatterns) {
    if (name == ProtocolName(d.pattern)) return d.pattern;
  }
  return InvalidArgumentError("unsupported Noise protocol " + std::string(name));
}

std::string ProtocolName(HandshakePattern pattern) {
  return std::string("Noise_") + Def(pattern).name + std::string(kSuffix);
}

struct HandshakeState::Impl {
  const PatternDef* def = nullptr;
  bool initiator = false;
  internal::SymmetricState ss;
  KeyPair s, e;
  std::string rs, re;
  Random* random = nullptr;
  int next_message = 0;
  bool dead = false;
  bool split_done = false;

  bool MyTurn() const {
    return !dead && next_message < def->num_messages && ((next_message % 2 == 0) == initiator);
  }

  Status MixDh(const KeyPair& local, const std::string& remote) {
    if (!ValidKeyPair(local) || remote.size() != kDhLen) {
      return InternalError("Noise DH token without its keys");
    }
    unsigned char out[kDhLen];
    DS_RETURN_IF_ERROR(internal::Dh(local.private_key.data(),
                                    reinterpret_cast<const unsigned char*>(remote.data()), out));
    ss.MixKey(out, kDhLen);
    sodium_memzero(out, sizeof out);
    return Status::Ok();
  }

  // The DH tokens, identical for writing and reading (spec 5.3).
  Status DhToken(Token t) {
    switch (t) {
      case Token::kEE: return MixDh(e, re);
      case Token::kES: return initiator ? MixDh(e, rs) : MixDh(s, re);
      case Token::kSE: return initiator ? MixDh(s, re) : MixDh(e, rs);
      case Token::kSS: return MixDh(s, rs);
      default: return InternalError("not a DH token");
    }
  }

  Status Write(std::string_view payload, std::string* message) {
    const int m = next_message;
    for (int i = 0; i < def->num_tokens[m]; ++i) {
      Token t = def->tokens[m][i];
      if (t == Token::kE) {
        if (e.empty()) {
          if (random == nullptr) return InternalError("no random source for the ephemeral key");
          e = GenerateKeyPair(*random);
          if (!ValidKeyPair(e)) return InternalError("cannot generate an ephemeral key");
        }
        message->append(e.public_key);
        ss.MixHash(e.public_key);
      } else if (t == Token::kS) {
        DS_RETURN_IF_ERROR(ss.EncryptAndHash(s.public_key, message));
      } else {
        DS_RETURN_IF_ERROR(DhToken(t));
      }
    }
    DS_RETURN_IF_ERROR(ss.EncryptAndHash(payload, message));
    return Status::Ok();
  }

  Status Read(std::string_view message, std::string* payload) {
    const int m = next_message;
    for (int i = 0; i < def->num_tokens[m]; ++i) {
      Token t = def->tokens[m][i];
      if (t == Token::kE) {
        if (message.size() < kDhLen) return DataLossError("Noise handshake message too short");
        re.assign(message.substr(0, kDhLen));
        message.remove_prefix(kDhLen);
        ss.MixHash(re);
      } else if (t == Token::kS) {
        size_t len = kDhLen + (ss.HasKey() ? kNoiseTagBytes : 0);
        if (message.size() < len) return DataLossError("Noise handshake message too short");
        std::string decrypted;
        DS_RETURN_IF_ERROR(ss.DecryptAndHash(message.substr(0, len), &decrypted));
        message.remove_prefix(len);
        rs = std::move(decrypted);
      } else {
        DS_RETURN_IF_ERROR(DhToken(t));
      }
    }
    return ss.DecryptAndHash(message, payload);
  }
};

HandshakeState::HandshakeState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HandshakeState::HandshakeState(HandshakeState&&) noexcept = default;
HandshakeState& HandshakeState::operator=(HandshakeState&&) noexcept = default;
HandshakeState::~HandshakeState() = default;

Result<HandshakeState> HandshakeState::Create(HandshakeConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->def = &Def(config.pattern);
  impl->initiator = config.initiator;
  const PatternDef& d = *impl->def;
  const bool has_s = config.initiator ? d.initiator_static : d.responder_static;
  const bool knows_rs = config.initiator ? d.responder_pre_s : d.initiator_pre_s;
  if (has_s != !config.local_static.empty()) {
    return InvalidArgumentError(std::string(d.name) + (has_s ? " needs" : " takes no") +
                                " local static key for this role");
  }
  if (has_s && !ValidKeyPair(config.local_static)) {
    return InvalidArgumentError("malformed local static key pair");
  }
  if (knows_rs ? config.remote_static.size() != kPublicKeyBytes : !config.remote_static.empty()) {
    return InvalidArgumentError(std::string(d.name) + (knows_rs ? " needs a 32-byte" : " takes no") +
                                " pre-known remote static key for this role");
  }
  if (!config.local_ephemeral.empty() && !ValidKeyPair(config.local_ephemeral)) {
    return InvalidArgumentError("malformed fixed ephemeral key pair");
  }
  if (config.local_ephemeral.empty() && config.random == nullptr) {
    return InvalidArgumentError("a random source is needed for ephemeral keys");
  }
  impl->s = std::move(config.local_static);
  impl->e = std::move(config.local_ephemeral);
  impl->rs = std::move(config.remote_static);
  impl->random = config.random;

  DS_RETURN_IF_ERROR(impl->ss.Initialize(ProtocolName(config.pattern)));
  impl->ss.MixHash(config.prologue);
  // Pre-messages: the initiator's first, then the responder's.
  if (d.initiator_pre_s) impl->ss.MixHash(config.initiator ? impl->s.public_key : impl->rs);
  if (d.responder_pre_s) impl->ss.MixHash(config.initiator ? impl->rs : impl->s.public_key);
  return HandshakeState(std::move(impl));
}

bool HandshakeState::IsInitiator() const { return impl_->initiator; }
bool HandshakeState::IsMyTurn() const { return impl_->MyTurn(); }
bool HandshakeState::IsComplete() const {
  return !impl_->dead && impl_->next_message >= impl_->def->num_messages;
}

Status HandshakeState::WriteMessage(std::string_view payload, std::string* message) {
  if (!impl_->MyTurn()) return FailedPreconditionError("not this side's turn to write");
  const size_t start = message->size();
  Status s = impl_->Write(payload, message);
  if (s.ok() && message->size() - start > kNoiseMaxMessageBytes) {
    s = InvalidArgumentError("Noise handshake message would exceed 65535 bytes");
  }
  if (!s.ok()) {
    message->resize(start);
    impl_->dead = true;
    return s;
  }
  ++impl_->next_message;
  return Status::Ok();
}

Status HandshakeState::ReadMessage(std::string_view message, std::string* payload) {
  if (impl_->dead || impl_->next_message >= impl_->def->num_messages || impl_->MyTurn()) {
    return FailedPreconditionError("not this side's turn to read");
  }
  Status s = message.size() > kNoiseMaxMessageBytes
                 ? DataLossError("Noise handshake message exceeds 65535 bytes")
                 : impl_->Read(message, payload);
  if (!s.ok()) {
    impl_->dead = true;
    // Any error while reading the peer's bytes is an integrity failure.
    if (s.code() != StatusCode::kDataLoss && s.code() != StatusCode::kInternal) {
      s = DataLossError(s.message());
    }
    return s;
  }
  ++impl_->next_message;
  return Status::Ok();
}

Status HandshakeState::Split(CipherState* send, CipherState* receive) {
  if (!IsComplete() || impl_->split_done) {
    return FailedPreconditionError("the handshake is not complete");
  }
  CipherState c1, c2;
  impl_->ss.Split(&c1, &c2);
  *send = std::move(impl_->initiator ? c1 : c2);
  *receive = std::move(impl_->initiator ? c2 : c1);
  impl_->split_done = true;
  impl_->e.private_key.Reset();  // the ephemeral key is no longer needed
  return Status::Ok();
}

const std::string& HandshakeState::handshake_hash() const { return impl_->ss.h(); }
const std::string& HandshakeState::remote_static() const { return impl_->rs; }

}  // namespace doorstep::sync
