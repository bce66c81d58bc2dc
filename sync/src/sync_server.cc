#include "doorstep/sync/sync_server.h"

#include <atomic>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "doorstep/sync/asio.h"

#include "server_session.h"

namespace doorstep::sync {

struct SyncServer::Impl {
  ServerCore* core = nullptr;
  Env env;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<asio::signal_set> signals;
  std::unique_ptr<ChannelServer> listener;
  std::vector<std::thread> threads;
  std::mutex mu;  // guards stopping and joining
  std::atomic<bool> stopped{false};
  bool joined = false;
  // The server core's calls for these sessions: ~SyncServer waits for them
  // before io (which their callbacks post into) is destroyed.
  std::shared_ptr<internal::CoreCalls> calls = internal::CoreCalls::Make();

  void Stop() {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return;
    stopped = true;
    if (listener) listener->Stop();
    asio::post(io, [this] {
      if (signals) {
        asio::error_code ec;
        signals->cancel(ec);
      }
      work.reset();  // the loop ends once sessions have finished writing
    });
  }
};

SyncServer::SyncServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<SyncServer>> SyncServer::Start(ServerCore* core, KeyPair server_keys,
                                                      Env env, SyncServerOptions options) {
  if (core == nullptr) return InvalidArgumentError("no server core");
  auto impl = std::make_unique<Impl>();
  impl->core = core;
  impl->env = env;
  Impl* raw = impl.get();
  // The verdict accepts every completed handshake: the session decides, so
  // that a refusal is an authenticated `error` message (docs/sync.md).
  HandshakeAuthorizer accept = [](const std::string&, const std::string&) { return Status::Ok(); };
  auto on_session = [raw](std::shared_ptr<ServerChannel> ch) {
    std::make_shared<internal::ServerSession>(raw->core, std::move(ch), raw->env, raw->calls)->Start();
  };
  DS_ASSIGN_OR_RETURN(impl->listener,
                      ChannelServer::Start(impl->io, options.host, options.port, std::move(server_keys),
                                           accept, on_session, env, options.transport));
  impl->work.emplace(asio::make_work_guard(impl->io));
  if (options.stop_on_signals) {
    impl->signals.emplace(impl->io, SIGINT, SIGTERM);
    impl->signals->async_wait([raw](const asio::error_code& ec, int) {
      if (!ec) raw->Stop();
    });
  }
  int n = std::max(1, std::min(options.threads, 16));
  for (int i = 0; i < n; ++i) {
    impl->threads.emplace_back([raw] {
      for (;;) {
        try {
          raw->io.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: log and keep serving the other sessions.
          if (raw->env.logger) raw->env.logger->Log(LogLevel::kError, std::string("handler: ") + e.what());
        }
      }
    });
  }
  return std::unique_ptr<SyncServer>(new SyncServer(std::move(impl)));
}

SyncServer::~SyncServer() {
  Stop();
  Wait();
  // A call the server core is still committing would post its answer into
  // io from the core's thread (and hold its connection, whose socket is
  // io's): io goes only once none is left.
  impl_->calls->WaitNone();
}

uint16_t SyncServer::port() const { return impl_->listener ? impl_->listener->port() : 0; }

void SyncServer::Stop() { impl_->Stop(); }

void SyncServer::Wait() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->joined) return;
    impl_->joined = true;
    threads.swap(impl_->threads);
  }
  if (impl_->stopped) {
    // Sessions get up to two seconds to finish writing; then the loop stops.
    for (int i = 0; i < 200 && !impl_->io.stopped(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    impl_->io.stop();
  }
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

}  // namespace doorstep::sync
