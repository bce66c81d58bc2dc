// ClientChannel: a device's blocking connection to the sync server — TCP
// (Asio) carrying a SecureChannel. A device runs one sync at a time, so every
// call blocks the calling thread, bounded by a timeout.
//
//   auto ch = ClientChannel::Connect("sync.example.org", 7443, device_keys.Clone(),
//                                    pinned_server_key, msg3_payload, random);
//   if (!ch.ok()) return ch.status();          // refused, unreachable, wrong key...
//   DS_RETURN_IF_ERROR((*ch)->Send(hello));
//   DS_ASSIGN_OR_RETURN(std::string reply, (*ch)->Receive());
//
// Any error other than kResourceExhausted from Send() (message too large)
// closes the connection; later calls return the same status.
// Ownership: owns its socket and I/O context. Thread safety: not
// thread-safe; one thread uses a ClientChannel at a time.
#ifndef DOORSTEP_SYNC_CHANNEL_CLIENT_H_
#define DOORSTEP_SYNC_CHANNEL_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/secure_channel.h"

namespace doorstep::sync {

struct ClientOptions {
  ChannelOptions channel;
  // Name resolution + TCP connect + handshake (+ verdict), in all.
  int64_t connect_timeout_ms = 15'000;
  // Each Send() and each Receive().
  int64_t io_timeout_ms = 60'000;
  // True: Connect() returns only once the server has accepted, so a refusal
  // (revoked, unknown device) is Connect()'s error. False: Connect() returns
  // after the third handshake message is sent (saving a round trip), and a
  // refusal surfaces from the first Receive().
  bool wait_for_verdict = true;
};

class ClientChannel {
 public:
  // Connects to host:port and runs the handshake as initiator (see
  // SecureChannel::Initiator for the keys and payload). Errors: kUnavailable
  // (cannot resolve or connect, timeout, connection lost), kUnauthenticated
  // (the server's key is not the pinned one), the server's refusal code
  // (kPermissionDenied, kUnauthenticated, ...) with its reason, kDataLoss (a
  // message failed authentication), kInvalidArgument (bad keys/payload).
  // `random` is used during Connect() only.
  static Result<std::unique_ptr<ClientChannel>> Connect(const std::string& host, uint16_t port,
                                                        KeyPair device_keys,
                                                        std::string pinned_server_key,
                                                        std::string msg3_payload, Random& random,
                                                        ClientOptions options = {});
  ~ClientChannel();
  ClientChannel(const ClientChannel&) = delete;
  ClientChannel& operator=(const ClientChannel&) = delete;

  // Sends one application message (≤ max_message_bytes) and returns once it
  // is written to the socket. kResourceExhausted if too large (the channel
  // stays usable); kUnavailable on timeout or a lost connection.
  Status Send(std::string_view message);
  // Waits for the next application message. kAborted if the server closed
  // the connection (cleanly or mid-message), kUnavailable on timeout or
  // network error, kDataLoss on an integrity failure, kResourceExhausted if
  // the server announced a message over the limit, or the server's refusal.
  Result<std::string> Receive();
  // Closes the connection (idempotent). Later calls fail kFailedPrecondition.
  void Close();

  // The Noise handshake hash (64 bytes): a channel binding for this session.
  const std::string& handshake_hash() const;

  // Bytes written to and read from the TCP socket so far (framing, Noise
  // handshake and MACs included).
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

 private:
  struct Impl;
  explicit ClientChannel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_CHANNEL_CLIENT_H_
