// ServerConnection: one TCP connection of a ChannelServer, driving a
// SecureChannel responder on its own strand (the socket's executor). Every
// private method runs on that strand; public ServerChannel methods post to
// it. Private to doorstep_sync.
#ifndef DOORSTEP_SYNC_SERVER_CONNECTION_H_
#define DOORSTEP_SYNC_SERVER_CONNECTION_H_

#include "doorstep/sync/asio.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "doorstep/core/env.h"
#include "doorstep/sync/channel_server.h"
#include "doorstep/sync/secure_channel.h"

namespace doorstep::sync::internal {

// What a connection needs from its server; shared so connections may outlive
// the ChannelServer object.
struct ConnectionContext {
  ServerOptions options;
  ChannelServer::SessionHandler on_session;
  Logger* logger = nullptr;
  // Called (on the connection's strand) when a connection finishes.
  std::function<void(const void* connection)> on_finished;
};

class ServerConnection final : public ServerChannel,
                               public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(std::shared_ptr<const ConnectionContext> context, asio::ip::tcp::socket socket,
                   SecureChannel channel);

  // Starts the handshake. Call once, right after construction.
  void Begin();
  // Ends the connection now with `status` (from any thread).
  void Abort(Status status);

  void Start(MessageHandler on_message, CloseHandler on_close) override;
  void Send(std::string message, SentHandler on_sent) override;
  void Close() override;
  void Post(std::function<void()> fn) override;
  const std::string& remote_static_key() const override { return remote_key_; }
  const std::string& handshake_payload() const override { return payload_; }
  const std::string& handshake_hash() const override { return hash_; }
  const std::string& remote_address() const override { return address_; }

 private:
  enum class Phase { kHandshake, kWaitingStart, kRunning, kClosing, kClosed };

  void Read();
  void OnRead(const asio::error_code& ec, size_t n);
  void OnHandshakeDone();
  void Deliver();
  void Flush();
  void OnWritten(const asio::error_code& ec);
  void ArmTimer(int64_t ms);
  void Finish(Status status);
  void Log(const std::string& what);

  std::shared_ptr<const ConnectionContext> context_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  SecureChannel channel_;
  std::vector<char> read_buf_;
  std::string writing_;
  std::vector<SentHandler> pending_sent_;   // for output still in channel_
  std::vector<SentHandler> inflight_sent_;  // for output in writing_
  MessageHandler on_message_;
  CloseHandler on_close_;
  Phase phase_ = Phase::kHandshake;
  bool reading_ = false;
  bool write_active_ = false;
  Status close_status_;
  std::string remote_key_, payload_, hash_, address_;
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_SERVER_CONNECTION_H_
