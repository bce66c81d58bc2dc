// SyncServer: the network face of ServerCore. One asio::io_context run by a
// small thread pool, a ChannelServer (Noise XX transport) listening on
// host:port, and one session per connection on that connection's strand.
//
// A session: the handshake's verdict always accepts; the session then asks
// ServerCore::AuthenticatePeer about the device's static key and the third
// message's payload, and on refusal sends one authenticated `error` message
// (`revoked`, `not_enrolled`, `enrolment_refused`, `rate_limited`) and
// closes. Then hello → welcome (→ first batch when hello.pull), push →
// pushed, pull → batch, bye. A malformed or out-of-order message gets an
// `error` (`bad_message`) and closes that session only.
//
// Ownership: borrows the ServerCore (must outlive the SyncServer, and keep
// committing until it is destroyed); owns the io_context, its threads and
// the listener. Thread safety: all methods are safe from any thread; Stop()
// may be called from a handler or a signal.
#ifndef DOORSTEP_SYNC_SYNC_SERVER_H_
#define DOORSTEP_SYNC_SYNC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/channel_server.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"

namespace doorstep::sync {

struct SyncServerOptions {
  std::string host = "127.0.0.1";  // an IP address
  uint16_t port = 0;               // 0 = any free port (see port())
  int threads = 2;                 // io_context threads
  bool stop_on_signals = false;    // SIGINT/SIGTERM call Stop()
  ServerOptions transport;
};

class SyncServer {
 public:
  // Binds and starts serving. kInvalidArgument (bad address or keys),
  // kUnavailable (cannot bind).
  static Result<std::unique_ptr<SyncServer>> Start(ServerCore* core, KeyPair server_keys, Env env,
                                                   SyncServerOptions options = {});
  // Stop() and Wait(), then waits for every call its sessions handed to the
  // core to be done (the core answers them into this server's io_context).
  ~SyncServer();
  SyncServer(const SyncServer&) = delete;
  SyncServer& operator=(const SyncServer&) = delete;

  uint16_t port() const;
  // Stops accepting and closes live sessions; returns without waiting.
  void Stop();
  // Blocks until the server has stopped and its threads have ended.
  void Wait();

 private:
  struct Impl;
  explicit SyncServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_SYNC_SERVER_H_
