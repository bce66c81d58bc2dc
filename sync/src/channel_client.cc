#include "doorstep/sync/channel_client.h"

#include "doorstep/sync/asio.h"

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

namespace doorstep::sync {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

constexpr size_t kReadChunk = 64 * 1024;

Clock::time_point Deadline(int64_t ms) { return Clock::now() + std::chrono::milliseconds(ms); }

}  // namespace

struct ClientChannel::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::optional<SecureChannel> channel;
  std::vector<char> buf = std::vector<char>(kReadChunk);
  std::string wbuf;  // bytes being written; its capacity is reused
  ClientOptions options;
  Status failed;  // ok while usable
  bool closed = false;
  uint64_t sent = 0, received = 0;  // TCP payload bytes

  Status Fail(Status s) {
    if (failed.ok()) failed = s;
    asio::error_code ec;
    socket.close(ec);
    return failed;
  }

  // Runs the I/O context until `done` or the deadline; on timeout cancels
  // the operation (closing the socket) and returns false.
  bool RunUntil(const bool& done, Clock::time_point deadline) {
    io.restart();
    io.run_until(deadline);
    if (done) return true;
    asio::error_code ec;
    socket.close(ec);
    io.restart();
    io.run();  // let the cancelled handler complete
    return false;
  }

  Status ResolveAndConnect(const std::string& host, uint16_t port, Clock::time_point deadline) {
    bool done = false;
    asio::error_code result;
    std::vector<tcp::endpoint> endpoints;
    asio::ip::address literal = asio::ip::make_address(host, result);
    if (!result) {  // an IP address: no name resolution (and no resolver thread)
      endpoints.emplace_back(literal, port);
      return ConnectTo(endpoints, host, port, deadline);
    }
    tcp::resolver resolver(io);
    resolver.async_resolve(host, std::to_string(port),
                           [&](const asio::error_code& ec, tcp::resolver::results_type r) {
                             done = true;
                             result = ec;
                             for (const auto& entry : r) endpoints.push_back(entry.endpoint());
                           });
    io.restart();
    io.run_until(deadline);
    if (!done) {
      resolver.cancel();
      io.restart();
      io.run();
      return UnavailableError("timed out resolving " + host);
    }
    if (result) return UnavailableError("cannot resolve " + host + ": " + result.message());
    return ConnectTo(endpoints, host, port, deadline);
  }

  Status ConnectTo(const std::vector<tcp::endpoint>& endpoints, const std::string& host,
                   uint16_t port, Clock::time_point deadline) {
    bool done = false;
    asio::error_code result;
    asio::async_connect(socket, endpoints, [&](const asio::error_code& ec, const tcp::endpoint&) {
      done = true;
      result = ec;
    });
    if (!RunUntil(done, deadline)) return UnavailableError("timed out connecting to " + host);
    if (result) {
      return UnavailableError("cannot connect to " + host + ":" + std::to_string(port) + ": " +
                              result.message());
    }
    asio::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    return Status::Ok();
  }

  // Writes all of the channel's pending output.
  Status Flush(Clock::time_point deadline) {
    while (channel->HasOutput()) {
      std::string& out = wbuf;
      channel->TakeOutput(&out);
      bool done = false;
      asio::error_code result;
      asio::async_write(socket, asio::buffer(out), [&](const asio::error_code& ec, size_t) {
        done = true;
        result = ec;
      });
      if (!RunUntil(done, deadline)) return Fail(UnavailableError("timed out sending"));
      if (result) return Fail(UnavailableError("connection lost: " + result.message()));
      sent += out.size();
    }
    return Status::Ok();
  }

  // Reads once and feeds the channel (which may queue output to flush).
  Status ReadOnce(Clock::time_point deadline) {
    bool done = false;
    asio::error_code result;
    size_t got = 0;
    socket.async_read_some(asio::buffer(buf), [&](const asio::error_code& ec, size_t n) {
      done = true;
      result = ec;
      got = n;
    });
    if (!RunUntil(done, deadline)) return Fail(UnavailableError("timed out waiting for the server"));
    if (result == asio::error::eof) {
      Status s = channel->FinishInput();
      return Fail(s.ok() || s.code() == StatusCode::kAborted
                      ? AbortedError("the server closed the connection")
                      : s);
    }
    if (result) return Fail(UnavailableError("connection lost: " + result.message()));
    received += got;
    if (Status s = channel->Feed(std::string_view(buf.data(), got)); !s.ok()) return Fail(s);
    return Flush(deadline);
  }

  Status Usable() const {
    if (!failed.ok()) return failed;
    if (closed) return FailedPreconditionError("the connection is closed");
    return Status::Ok();
  }
};

ClientChannel::ClientChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClientChannel::~ClientChannel() { Close(); }

Result<std::unique_ptr<ClientChannel>> ClientChannel::Connect(
    const std::string& host, uint16_t port, KeyPair device_keys, std::string pinned_server_key,
    std::string msg3_payload, Random& random, ClientOptions options) {
  DS_ASSIGN_OR_RETURN(SecureChannel channel,
                      SecureChannel::Initiator(std::move(device_keys), std::move(pinned_server_key),
                                               std::move(msg3_payload), random, options.channel));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->channel.emplace(std::move(channel));
  const Clock::time_point deadline = Deadline(options.connect_timeout_ms);
  DS_RETURN_IF_ERROR(impl->ResolveAndConnect(host, port, deadline));
  DS_RETURN_IF_ERROR(impl->Flush(deadline));
  using State = SecureChannel::State;
  while (impl->channel->state() == State::kHandshake ||
         (options.wait_for_verdict && impl->channel->state() == State::kAwaitingVerdict)) {
    DS_RETURN_IF_ERROR(impl->ReadOnce(deadline));
  }
  return std::unique_ptr<ClientChannel>(new ClientChannel(std::move(impl)));
}

Status ClientChannel::Send(std::string_view message) {
  Impl& m = *impl_;
  DS_RETURN_IF_ERROR(m.Usable());
  Status s = m.channel->Send(message);
  if (s.code() == StatusCode::kResourceExhausted && m.channel->state() != SecureChannel::State::kClosed) {
    return s;
  }
  if (!s.ok()) return m.Fail(s);
  return m.Flush(Deadline(m.options.io_timeout_ms));
}

Result<std::string> ClientChannel::Receive() {
  Impl& m = *impl_;
  DS_RETURN_IF_ERROR(m.Usable());
  const Clock::time_point deadline = Deadline(m.options.io_timeout_ms);
  while (!m.channel->HasMessage()) DS_RETURN_IF_ERROR(m.ReadOnce(deadline));
  return m.channel->PopMessage();
}

void ClientChannel::Close() {
  if (!impl_ || impl_->closed) return;
  impl_->closed = true;
  asio::error_code ec;
  impl_->socket.shutdown(tcp::socket::shutdown_both, ec);
  impl_->socket.close(ec);
}

const std::string& ClientChannel::handshake_hash() const { return impl_->channel->handshake_hash(); }

uint64_t ClientChannel::bytes_sent() const { return impl_->sent; }
uint64_t ClientChannel::bytes_received() const { return impl_->received; }

}  // namespace doorstep::sync
