// ChannelServer: the server's side of the secure transport — an Asio TCP
// listener whose connections each run a SecureChannel responder on their own
// strand, on the caller's io_context (run it from a pool of threads).
//
//   auto server = ChannelServer::Start(io, "0.0.0.0", 7443, server_keys.Clone(),
//       authorize,   // HandshakeAuthorizer: enrolled and not revoked?
//       [](std::shared_ptr<ServerChannel> ch) {
//         ch->Start([ch](std::string msg) { ch->Send(Handle(msg)); },
//                   [](const Status& why) { /* session over */ });
//       },
//       env);
//   io.run();  // on N threads
//
// Every handler (the authorizer, the session handler, message, close and
// sent handlers) runs on the connection's strand, on an io_context thread:
// the handlers of one connection never run concurrently, those of different
// connections may. Handlers must not block for long.
//
// Ownership: the caller owns the io_context (it must outlive the server and
// its connections' handlers) and the ChannelServer; connections are shared
// (std::shared_ptr<ServerChannel>) and live while referenced or until their
// pending operations finish. Thread safety: all methods of ChannelServer and
// ServerChannel are safe from any thread.
#ifndef DOORSTEP_SYNC_CHANNEL_SERVER_H_
#define DOORSTEP_SYNC_CHANNEL_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/secure_channel.h"

namespace asio {
class io_context;
}  // namespace asio

namespace doorstep::sync {

// One accepted, authenticated and authorised connection.
class ServerChannel {
 public:
  using MessageHandler = std::function<void(std::string message)>;
  // Called once when the connection ends: ok for a clean close by either
  // side at a message boundary; kAborted for a cut mid-message; kDataLoss,
  // kResourceExhausted, kUnavailable (network error, idle timeout) otherwise.
  using CloseHandler = std::function<void(const Status& status)>;
  // Called once the message is written to the socket, or with the error
  // that prevented it.
  using SentHandler = std::function<void(const Status& status)>;

  virtual ~ServerChannel() = default;

  // Starts delivering messages. No message is read before Start(); call it
  // once, usually from the session handler. Handlers are dropped after
  // on_close runs (so they may capture the channel's shared_ptr).
  virtual void Start(MessageHandler on_message, CloseHandler on_close) = 0;
  // Queues a message (≤ max_message_bytes, else on_sent gets
  // kResourceExhausted and the connection stays up).
  virtual void Send(std::string message, SentHandler on_sent = nullptr) = 0;
  // Closes after queued messages are written; on_close(ok) follows.
  virtual void Close() = 0;
  // Runs `fn` on the connection's strand (also after the connection has
  // closed), so that work finished on another thread can carry on there.
  virtual void Post(std::function<void()> fn) = 0;

  // Immutable after the handshake: safe from any thread.
  virtual const std::string& remote_static_key() const = 0;  // 32 raw bytes
  virtual const std::string& handshake_payload() const = 0;  // third message's payload
  virtual const std::string& handshake_hash() const = 0;     // 64 bytes
  virtual const std::string& remote_address() const = 0;     // "ip:port", for logs
};

struct ServerOptions {
  ChannelOptions channel;
  // A connection must finish the handshake within this time.
  int64_t handshake_timeout_ms = 10'000;
  // An open connection with no traffic either way for this long is closed
  // (kUnavailable). 0 = never.
  int64_t idle_timeout_ms = 300'000;
};

class ChannelServer {
 public:
  // Called on the connection's strand once a connection is accepted by the
  // authorizer.
  using SessionHandler = std::function<void(std::shared_ptr<ServerChannel> channel)>;

  // Listens on host:port (an IP address; port 0 picks a free port) and
  // accepts connections on `io`. `env.random` (thread-safe, e.g. RealEnv())
  // draws ephemeral keys; `env.logger`, if set, gets one line per refused or
  // failed handshake (no key material, no payloads). Errors:
  // kInvalidArgument (bad address, keys, missing handler), kUnavailable
  // (cannot bind or listen).
  static Result<std::unique_ptr<ChannelServer>> Start(asio::io_context& io, const std::string& host,
                                                      uint16_t port, KeyPair server_keys,
                                                      HandshakeAuthorizer authorize,
                                                      SessionHandler on_session, Env env,
                                                      ServerOptions options = {});
  // Stops the server (see Stop()).
  ~ChannelServer();
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;

  // The port listened on.
  uint16_t port() const;
  // Stops accepting and closes every live connection (their on_close gets
  // kAborted). Idempotent; returns without waiting.
  void Stop();

 private:
  struct Core;
  explicit ChannelServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_CHANNEL_SERVER_H_
