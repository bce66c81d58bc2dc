#include "doorstep/sync/channel_server.h"

#include "doorstep/sync/asio.h"

#include <chrono>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "server_connection.h"

namespace doorstep::sync {

using asio::ip::tcp;
using internal::ServerConnection;

// Everything the accept loop and the connections share. Kept alive by the
// ChannelServer and by pending accept handlers.
struct ChannelServer::Core : std::enable_shared_from_this<ChannelServer::Core> {
  explicit Core(asio::io_context& io_context)
      : io(io_context), strand(asio::make_strand(io_context)), acceptor(strand), retry(strand) {}

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;  // the acceptor's
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  KeyPair keys;
  HandshakeAuthorizer authorize;
  Env env;
  ChannelOptions channel_options;
  std::shared_ptr<internal::ConnectionContext> context;
  uint16_t port = 0;

  // Live connections, for Stop(). Touched from every connection's strand.
  std::mutex mu;
  bool stopped = false;                                                      // guarded by mu
  std::unordered_map<const void*, std::weak_ptr<ServerConnection>> live;  // guarded by mu

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](
                                                     const asio::error_code& ec, tcp::socket s) {
      self->OnAccept(ec, std::move(s));
    });
  }

  void OnAccept(const asio::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {  // e.g. out of file descriptors: back off briefly
      if (env.logger) env.logger->Log(LogLevel::kWarn, "sync transport: accept: " + ec.message());
      retry.expires_after(std::chrono::milliseconds(50));
      retry.async_wait([self = shared_from_this()](const asio::error_code& e) {
        if (!e) self->Accept();
      });
      return;
    }
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    Result<SecureChannel> channel =
        SecureChannel::Responder(keys.Clone(), authorize, *env.random, channel_options);
    if (channel.ok()) {
      auto conn = std::make_shared<ServerConnection>(context, std::move(socket),
                                                     std::move(channel).value());
      bool accepted = false;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!stopped) {
          live[conn.get()] = conn;
          accepted = true;
        }
      }
      if (accepted) conn->Begin();
    } else if (env.logger) {
      env.logger->Log(LogLevel::kError, "sync transport: " + channel.status().ToString());
    }
    Accept();
  }
};

ChannelServer::ChannelServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

ChannelServer::~ChannelServer() { Stop(); }

Result<std::unique_ptr<ChannelServer>> ChannelServer::Start(
    asio::io_context& io, const std::string& host, uint16_t port, KeyPair server_keys,
    HandshakeAuthorizer authorize, SessionHandler on_session, Env env, ServerOptions options) {
  if (env.random == nullptr) return InvalidArgumentError("the server needs a random source");
  if (!authorize || !on_session) return InvalidArgumentError("missing authorizer or session handler");
  if (server_keys.private_key.size() != kPrivateKeyBytes ||
      server_keys.public_key.size() != kPublicKeyBytes) {
    return InvalidArgumentError("malformed server key pair");
  }
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgumentError("not an IP address: " + host);

  auto core = std::make_shared<Core>(io);
  core->keys = std::move(server_keys);
  core->authorize = std::move(authorize);
  core->env = env;
  core->channel_options = options.channel;
  auto context = std::make_shared<internal::ConnectionContext>();
  context->options = options;
  context->on_session = std::move(on_session);
  context->logger = env.logger;
  std::weak_ptr<Core> weak = core;
  context->on_finished = [weak](const void* conn) {
    if (auto c = weak.lock()) {
      std::lock_guard<std::mutex> lock(c->mu);
      c->live.erase(conn);
    }
  };
  core->context = std::move(context);

  tcp::endpoint endpoint(address, port);
  const std::string where = host + ":" + std::to_string(port);
  core->acceptor.open(endpoint.protocol(), ec);
  if (ec) {
    return UnavailableError("cannot open a socket: " + ec.message());
  }
  core->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  core->acceptor.bind(endpoint, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  core->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  core->port = core->acceptor.local_endpoint(ec).port();
  asio::post(core->strand, [core] { core->Accept(); });
  return std::unique_ptr<ChannelServer>(new ChannelServer(std::move(core)));
}

uint16_t ChannelServer::port() const { return core_->port; }

void ChannelServer::Stop() {
  std::vector<std::shared_ptr<ServerConnection>> conns;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->stopped) return;
    core_->stopped = true;
    for (auto& [key, weak] : core_->live) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
    core_->live.clear();
  }
  asio::post(core_->strand, [core = core_] {
    asio::error_code ignored;
    core->acceptor.close(ignored);
    core->retry.cancel();
  });
  for (auto& c : conns) c->Abort(AbortedError("the server is stopping"));
}

}  // namespace doorstep::sync
