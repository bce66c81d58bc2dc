#include "doorstep/sync/secure_channel.h"

#include <sodium.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "doorstep/sync/noise_cipher_state.h"
#include "doorstep/sync/noise_handshake.h"
#include "frame_reader.h"
#include "message_codec.h"

namespace doorstep::sync {
namespace {

using internal::AppendFrameHeader;

constexpr std::string_view kPrologue = "doorstep-transport-v1";

// Codes a responder may hand an initiator in a refusal; others are reported
// as kPermissionDenied so a peer cannot make a refusal look like a local bug.
StatusCode RefusalCode(unsigned char wire) {
  switch (static_cast<StatusCode>(wire)) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnavailable:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kResourceExhausted:
      return static_cast<StatusCode>(wire);
    default:
      return StatusCode::kPermissionDenied;
  }
}

// Printable ASCII only: a refusal reason is shown to people.
std::string Printable(std::string_view s) {
  std::string out(s.substr(0, internal::kMaxRefuseReasonBytes));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

struct SecureChannel::Impl {
  bool initiator = false;
  State state = State::kHandshake;
  Status status;
  ChannelOptions options;
  std::optional<HandshakeState> hs;
  std::string pinned;        // initiator
  std::string msg3_payload;  // initiator: to send; responder: received
  HandshakeAuthorizer authorize;
  CipherState send, recv;
  internal::FrameReader reader;
  internal::MessageAssembler assembler{0};
  std::deque<std::string> inbox;
  std::string out;
  std::string scratch;  // one chunk plaintext
  std::string remote_static;
  std::string hash;

  Status Close(Status s) {
    if (state != State::kClosed) {
      state = State::kClosed;
      status = s;
      send.Clear();
      recv.Clear();
      hs.reset();
    }
    return s;
  }

  // Encrypts one chunk plaintext into a frame on `out`.
  Status WriteTransport(std::string_view plaintext) {
    const size_t start = out.size();
    AppendFrameHeader(plaintext.size() + kNoiseTagBytes, &out);
    Status s = send.EncryptWithAd({}, plaintext, &out);
    if (!s.ok()) out.resize(start);
    return s;
  }

  Status WriteHandshake(std::string_view payload) {
    std::string msg;
    DS_RETURN_IF_ERROR(hs->WriteMessage(payload, &msg));
    AppendFrameHeader(msg.size(), &out);
    out += msg;
    return Status::Ok();
  }

  Status FinishHandshake() {
    DS_RETURN_IF_ERROR(hs->Split(&send, &recv));
    remote_static = hs->remote_static();
    hash = hs->handshake_hash();
    hs.reset();
    return Status::Ok();
  }

  Status OnHandshakeFrame(std::string_view frame) {
    std::string payload;
    DS_RETURN_IF_ERROR(hs->ReadMessage(frame, &payload));
    if (initiator) {
      // Message 2: the responder's static key is now known. Check the pin
      // before anything (the third message's payload) is sent.
      if (!payload.empty()) return DataLossError("unexpected payload in handshake message 2");
      const std::string& rs = hs->remote_static();
      if (rs.size() != pinned.size() ||
          sodium_memcmp(rs.data(), pinned.data(), pinned.size()) != 0) {
        return UnauthenticatedError("the server's key does not match the pinned server key");
      }
      DS_RETURN_IF_ERROR(WriteHandshake(msg3_payload));
      sodium_memzero(msg3_payload.data(), msg3_payload.size());
      msg3_payload.clear();
      DS_RETURN_IF_ERROR(FinishHandshake());
      state = State::kAwaitingVerdict;
      return Status::Ok();
    }
    if (!hs->IsComplete()) {
      // Message 1: only an ephemeral key; its payload must be empty.
      if (!payload.empty()) return DataLossError("unexpected payload in handshake message 1");
      return WriteHandshake({});
    }
    // Message 3: authenticate the initiator, then send the verdict.
    msg3_payload = std::move(payload);
    DS_RETURN_IF_ERROR(FinishHandshake());
    Status verdict = authorize(remote_static, msg3_payload);
    scratch.clear();
    if (verdict.ok()) {
      scratch.push_back(static_cast<char>(internal::kChunkAccept));
      DS_RETURN_IF_ERROR(WriteTransport(scratch));
      state = State::kOpen;
      return Status::Ok();
    }
    scratch.push_back(static_cast<char>(internal::kChunkRefuse));
    scratch.push_back(static_cast<char>(verdict.code()));
    scratch += verdict.message().substr(0, internal::kMaxRefuseReasonBytes);
    (void)WriteTransport(scratch);
    return verdict;
  }

  Status OnVerdict(std::string_view pt) {
    if (pt.empty()) return DataLossError("empty transport message");
    const unsigned char kind = static_cast<unsigned char>(pt[0]);
    if (kind == internal::kChunkAccept && pt.size() == 1) {
      state = State::kOpen;
      return Status::Ok();
    }
    if (kind == internal::kChunkRefuse && pt.size() >= 2) {
      return Status(RefusalCode(static_cast<unsigned char>(pt[1])),
                    "the server refused the connection: " + Printable(pt.substr(2)));
    }
    return DataLossError("expected the server's verdict");
  }

  Status OnFrame(std::string_view frame) {
    if (state == State::kHandshake) return OnHandshakeFrame(frame);
    if (frame.size() > kNoiseMaxMessageBytes) return DataLossError("oversized frame");
    scratch.clear();
    DS_RETURN_IF_ERROR(recv.DecryptWithAd({}, frame, &scratch));
    if (state == State::kAwaitingVerdict) return OnVerdict(scratch);
    return assembler.Add(scratch, &inbox);
  }
};

SecureChannel::SecureChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecureChannel::SecureChannel(SecureChannel&&) noexcept = default;
SecureChannel& SecureChannel::operator=(SecureChannel&&) noexcept = default;
SecureChannel::~SecureChannel() = default;

namespace {

Status CheckOptions(const ChannelOptions& options) {
  if (options.max_message_bytes > UINT32_MAX) {
    return InvalidArgumentError("max_message_bytes must fit in 32 bits");
  }
  return Status::Ok();
}

}  // namespace

Result<SecureChannel> SecureChannel::Initiator(KeyPair local_static,
                                               std::string pinned_responder_key,
                                               std::string msg3_payload, Random& random,
                                               ChannelOptions options) {
  DS_RETURN_IF_ERROR(CheckOptions(options));
  if (pinned_responder_key.size() != kPublicKeyBytes) {
    return InvalidArgumentError("the pinned server key must be 32 bytes");
  }
  if (msg3_payload.size() > kMaxHandshakePayloadBytes) {
    return InvalidArgumentError("handshake payload too large");
  }
  HandshakeConfig c;
  c.pattern = HandshakePattern::kXX;
  c.initiator = true;
  c.prologue = std::string(kPrologue);
  c.local_static = std::move(local_static);
  c.random = &random;
  DS_ASSIGN_OR_RETURN(HandshakeState hs, HandshakeState::Create(std::move(c)));
  auto impl = std::make_unique<Impl>();
  impl->initiator = true;
  impl->options = options;
  impl->assembler = internal::MessageAssembler(options.max_message_bytes);
  impl->hs.emplace(std::move(hs));
  impl->pinned = std::move(pinned_responder_key);
  impl->msg3_payload = std::move(msg3_payload);
  DS_RETURN_IF_ERROR(impl->WriteHandshake({}));
  return SecureChannel(std::move(impl));
}

Result<SecureChannel> SecureChannel::Responder(KeyPair local_static, HandshakeAuthorizer authorize,
                                               Random& random, ChannelOptions options) {
  DS_RETURN_IF_ERROR(CheckOptions(options));
  if (!authorize) return InvalidArgumentError("a responder needs an authorizer");
  HandshakeConfig c;
  c.pattern = HandshakePattern::kXX;
  c.prologue = std::string(kPrologue);
  c.local_static = std::move(local_static);
  c.random = &random;
  DS_ASSIGN_OR_RETURN(HandshakeState hs, HandshakeState::Create(std::move(c)));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->assembler = internal::MessageAssembler(options.max_message_bytes);
  impl->hs.emplace(std::move(hs));
  impl->authorize = std::move(authorize);
  return SecureChannel(std::move(impl));
}

Status SecureChannel::Feed(std::string_view bytes) {
  Impl& m = *impl_;
  if (m.state == State::kClosed) {
    return m.status.ok() ? FailedPreconditionError("the channel is closed") : m.status;
  }
  while (!bytes.empty()) {
    bytes.remove_prefix(m.reader.Consume(bytes));
    if (!m.reader.has_frame()) continue;
    Status s = m.OnFrame(m.reader.frame());
    m.reader.Next();
    if (!s.ok()) return m.Close(s);
  }
  return Status::Ok();
}

Status SecureChannel::FinishInput() {
  Impl& m = *impl_;
  if (m.state == State::kClosed) return m.status;
  if (m.state != State::kOpen) {
    return m.Close(UnavailableError("the connection closed during the handshake"));
  }
  if (mid_message()) return m.Close(AbortedError("the connection was cut inside a message"));
  return m.Close(Status::Ok());
}

Status SecureChannel::Send(std::string_view message) {
  Impl& m = *impl_;
  if (m.state == State::kClosed) {
    return m.status.ok() ? FailedPreconditionError("the channel is closed") : m.status;
  }
  if (m.state != State::kOpen && !(m.initiator && m.state == State::kAwaitingVerdict)) {
    return FailedPreconditionError("the handshake is not finished");
  }
  if (message.size() > m.options.max_message_bytes) {
    return ResourceExhaustedError("message of " + std::to_string(message.size()) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(m.options.max_message_bytes));
  }
  // Room for every frame at once: no reallocation while splitting.
  const size_t frames = message.size() / internal::kMaxChunkBytes + 1;
  m.out.reserve(m.out.size() + message.size() +
                frames * (internal::kFrameHeaderBytes + 1 + kNoiseTagBytes) +
                internal::kStartHeaderBytes);
  internal::MessageSplitter splitter(message);
  while (splitter.Next(&m.scratch)) {
    if (Status s = m.WriteTransport(m.scratch); !s.ok()) return m.Close(s);
  }
  return Status::Ok();
}

bool SecureChannel::HasOutput() const { return !impl_->out.empty(); }
std::string SecureChannel::TakeOutput() { return std::exchange(impl_->out, std::string()); }
void SecureChannel::TakeOutput(std::string* buffer) {
  buffer->clear();
  std::swap(*buffer, impl_->out);
}
bool SecureChannel::HasMessage() const { return !impl_->inbox.empty(); }
std::string SecureChannel::PopMessage() {
  std::string msg = std::move(impl_->inbox.front());
  impl_->inbox.pop_front();
  return msg;
}
SecureChannel::State SecureChannel::state() const { return impl_->state; }
const Status& SecureChannel::status() const { return impl_->status; }
bool SecureChannel::mid_message() const {
  return !impl_->reader.at_boundary() || impl_->assembler.in_message();
}
const std::string& SecureChannel::remote_static_key() const { return impl_->remote_static; }
const std::string& SecureChannel::handshake_payload() const {
  static const std::string kEmpty;
  return impl_->initiator ? kEmpty : impl_->msg3_payload;
}
const std::string& SecureChannel::handshake_hash() const { return impl_->hash; }

}  // namespace doorstep::sync
