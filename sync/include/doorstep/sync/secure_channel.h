// SecureChannel: Doorstep's secure transport as a pure state machine, with no
// I/O — bytes from the peer go in through Feed(), bytes for the peer come out
// of TakeOutput(), whole application messages come out of PopMessage().
// ClientChannel (blocking) and ChannelServer (async) drive it over TCP; tests
// and fuzzers drive it directly. Wire format: docs/transport.md.
//
// The handshake is Noise_XX_25519_ChaChaPoly_BLAKE2b with the prologue
// "doorstep-transport-v1". The first message carries an empty payload. The
// initiator (a device) checks the responder's static key against the pinned
// key as soon as it learns it, BEFORE sending the third message, whose
// payload (e.g. an enrolment code) is encrypted and authenticated. The
// responder (the server) then calls its HandshakeAuthorizer with the
// initiator's static key and that payload, and tells the initiator its
// verdict (accept, or refuse with a code and reason) in the first transport
// message.
//
// Any failure is final: the channel becomes kClosed, status() says why, and
// every later Feed()/Send() returns that status. Authentication failures of
// any frame (tampered, replayed, reordered, truncated) are kDataLoss; an
// announced application message over the limit is kResourceExhausted,
// refused before anything is allocated for it.
//
// Ownership: owns its keys (wiped on destruction). Move-only.
// Thread safety: not thread-safe; the owner serialises all calls (a strand).
#ifndef DOORSTEP_SYNC_SECURE_CHANNEL_H_
#define DOORSTEP_SYNC_SECURE_CHANNEL_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/key_pair.h"

namespace doorstep::sync {

// Default limit on one application message (16 MiB).
inline constexpr size_t kDefaultMaxAppMessageBytes = size_t{16} << 20;
// The largest payload of the third handshake message: 65535 minus the
// encrypted static key (48) and the payload's tag (16).
inline constexpr size_t kMaxHandshakePayloadBytes = 65535 - 48 - 16;

// The responder's check of an initiator after the handshake: its static
// public key (32 raw bytes) and the third message's payload. Return ok to
// accept; any other status refuses the connection, and its code and message
// (at most 512 bytes are sent) reach the initiator. Called once per channel,
// from whatever thread drives the channel: must be thread-safe if channels
// run on several threads, and should not block for long.
using HandshakeAuthorizer =
    std::function<Status(const std::string& remote_static_pub, const std::string& msg3_payload)>;

struct ChannelOptions {
  // Largest application message accepted from the peer, and sent. ≤ 2^32-1.
  size_t max_message_bytes = kDefaultMaxAppMessageBytes;
};

class SecureChannel {
 public:
  enum class State {
    kHandshake,        // the XX handshake is under way
    kAwaitingVerdict,  // initiator: handshake done, the responder's verdict not yet read
    kOpen,             // application messages flow both ways
    kClosed,           // finished or failed; see status()
  };

  // A device's side. `local_static` is the device's key pair; the handshake
  // fails with kUnauthenticated if the responder's static key is not
  // `pinned_responder_key` (32 raw bytes). `msg3_payload` (≤
  // kMaxHandshakePayloadBytes) rides encrypted in the third message. The
  // first message is in TakeOutput() on return. `random` must outlive the
  // channel. kInvalidArgument for malformed keys, payload or options.
  static Result<SecureChannel> Initiator(KeyPair local_static, std::string pinned_responder_key,
                                         std::string msg3_payload, Random& random,
                                         ChannelOptions options = {});
  // The server's side of one connection. `random` must outlive the channel.
  // kInvalidArgument for a malformed key pair, missing authorizer or options.
  static Result<SecureChannel> Responder(KeyPair local_static, HandshakeAuthorizer authorize,
                                         Random& random, ChannelOptions options = {});

  SecureChannel(SecureChannel&&) noexcept;
  SecureChannel& operator=(SecureChannel&&) noexcept;
  ~SecureChannel();

  // Processes bytes received from the peer (any split: partial frames are
  // buffered). May queue output (handshake replies, the verdict) and
  // complete messages. Returns the status that closed the channel if it is
  // or becomes kClosed (after a responder refuses, TakeOutput() still holds
  // the refusal to write before closing the connection).
  Status Feed(std::string_view bytes);
  // Tells the channel the peer closed its side. Returns ok for a clean end
  // (channel open, no partial frame or message), kAborted for a cut inside a
  // frame or message, kUnavailable during the handshake. The channel is
  // kClosed afterwards.
  Status FinishInput();

  // Queues `message` for the peer, split into Noise transport messages.
  // Allowed once the initiator has sent its third message (kAwaitingVerdict)
  // or the responder has accepted (kOpen). kFailedPrecondition before that
  // or after a clean close; kResourceExhausted (channel stays usable) if
  // `message` exceeds max_message_bytes; the closing status if kClosed.
  Status Send(std::string_view message);

  // Bytes to write to the peer, in order. TakeOutput() moves them out; the
  // overload swaps them into *buffer (whose old contents are discarded and
  // whose capacity the channel reuses, so a caller alternating two buffers
  // allocates nothing in the steady state).
  bool HasOutput() const;
  std::string TakeOutput();
  void TakeOutput(std::string* buffer);

  // Completed application messages from the peer, in order.
  bool HasMessage() const;
  // REQUIRES: HasMessage().
  std::string PopMessage();

  State state() const;
  bool is_open() const { return state() == State::kOpen; }
  // Ok until the channel closes with an error.
  const Status& status() const;
  // True while part of a frame or of an application message has arrived.
  bool mid_message() const;

  // The peer's static public key (32 raw bytes) once the handshake has
  // authenticated it, else empty.
  const std::string& remote_static_key() const;
  // Responder: the third handshake message's payload, once received.
  const std::string& handshake_payload() const;
  // The Noise handshake hash (64 bytes) once the handshake is complete.
  const std::string& handshake_hash() const;

 private:
  struct Impl;
  explicit SecureChannel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_SECURE_CHANNEL_H_
