#include "server_connection.h"

#include <chrono>
#include <utility>

#include "doorstep/core/crypto.h"

namespace doorstep::sync::internal {

ServerConnection::ServerConnection(std::shared_ptr<const ConnectionContext> context,
                                   asio::ip::tcp::socket socket, SecureChannel channel)
    : context_(std::move(context)),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      channel_(std::move(channel)),
      read_buf_(64 * 1024) {
  asio::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  address_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

void ServerConnection::Begin() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->ArmTimer(self->context_->options.handshake_timeout_ms);
    self->Read();
  });
}

void ServerConnection::Abort(Status status) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), status = std::move(status)] { self->Finish(status); });
}

void ServerConnection::Start(MessageHandler on_message, CloseHandler on_close) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), on_message = std::move(on_message),
                                      on_close = std::move(on_close)]() mutable {
    if (self->phase_ == Phase::kClosed) {
      if (on_close) on_close(self->close_status_);
      return;
    }
    if (self->phase_ != Phase::kWaitingStart) return;  // started twice
    self->on_message_ = std::move(on_message);
    self->on_close_ = std::move(on_close);
    self->phase_ = Phase::kRunning;
    self->Deliver();
    self->ArmTimer(self->context_->options.idle_timeout_ms);
    self->Read();
  });
}

void ServerConnection::Send(std::string message, SentHandler on_sent) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), message = std::move(message),
                                      on_sent = std::move(on_sent)]() mutable {
    if (self->phase_ != Phase::kWaitingStart && self->phase_ != Phase::kRunning) {
      if (on_sent) on_sent(FailedPreconditionError("the connection is closed"));
      return;
    }
    Status s = self->channel_.Send(message);
    if (!s.ok()) {
      if (on_sent) on_sent(s);
      if (self->channel_.state() == SecureChannel::State::kClosed) self->Finish(s);
      return;
    }
    self->pending_sent_.push_back(std::move(on_sent));
    self->Flush();
  });
}

void ServerConnection::Close() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->phase_ == Phase::kClosed || self->phase_ == Phase::kClosing) return;
    self->phase_ = Phase::kClosing;
    self->close_status_ = Status::Ok();
    if (!self->write_active_ && !self->channel_.HasOutput()) self->Finish(Status::Ok());
  });
}

void ServerConnection::Post(std::function<void()> fn) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void ServerConnection::Read() {
  if (reading_ || (phase_ != Phase::kHandshake && phase_ != Phase::kRunning)) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                            self->OnRead(ec, n);
                          });
}

void ServerConnection::OnRead(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec == asio::error::eof) {
    Status s = channel_.FinishInput();
    if (phase_ == Phase::kHandshake) Log("connection closed during the handshake");
    return Finish(s);
  }
  if (ec) return Finish(UnavailableError("connection lost: " + ec.message()));
  if (phase_ != Phase::kHandshake && phase_ != Phase::kRunning) return;
  Status s = channel_.Feed(std::string_view(read_buf_.data(), n));
  if (!s.ok()) {
    if (phase_ == Phase::kHandshake) Log("handshake failed: " + s.ToString());
    if (channel_.HasOutput()) {  // a refusal: write it, then close
      phase_ = Phase::kClosing;
      close_status_ = s;
      return Flush();
    }
    return Finish(s);
  }
  Flush();
  if (phase_ == Phase::kHandshake) {
    if (!channel_.is_open()) return Read();
    return OnHandshakeDone();
  }
  Deliver();
  ArmTimer(context_->options.idle_timeout_ms);
  Read();
}

void ServerConnection::OnHandshakeDone() {
  timer_.cancel();
  remote_key_ = channel_.remote_static_key();
  payload_ = channel_.handshake_payload();
  hash_ = channel_.handshake_hash();
  phase_ = Phase::kWaitingStart;
  if (context_->on_session) context_->on_session(shared_from_this());
}

void ServerConnection::Deliver() {
  while (phase_ == Phase::kRunning && channel_.HasMessage()) {
    if (on_message_) on_message_(channel_.PopMessage());
  }
}

void ServerConnection::Flush() {
  if (write_active_ || phase_ == Phase::kClosed) return;
  if (!channel_.HasOutput()) {
    if (phase_ == Phase::kClosing) Finish(close_status_);
    return;
  }
  channel_.TakeOutput(&writing_);
  inflight_sent_ = std::move(pending_sent_);
  pending_sent_.clear();
  write_active_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t) {
                      self->OnWritten(ec);
                    });
}

void ServerConnection::OnWritten(const asio::error_code& ec) {
  write_active_ = false;
  writing_.clear();
  if (phase_ == Phase::kClosed) return;
  if (ec) return Finish(UnavailableError("connection lost: " + ec.message()));
  std::vector<SentHandler> done = std::move(inflight_sent_);
  inflight_sent_.clear();
  for (SentHandler& h : done) {
    if (h) h(Status::Ok());
  }
  if (phase_ == Phase::kRunning) ArmTimer(context_->options.idle_timeout_ms);
  Flush();
}

void ServerConnection::ArmTimer(int64_t ms) {
  if (ms <= 0) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->phase_ == Phase::kClosed) return;  // re-armed or cancelled
    if (self->timer_.expiry() > std::chrono::steady_clock::now()) return;  // re-armed late
    if (self->phase_ == Phase::kHandshake) {
      self->Log("handshake timed out");
      return self->Finish(UnavailableError("handshake timed out"));
    }
    if (self->phase_ == Phase::kRunning) self->Finish(UnavailableError("idle timeout"));
  });
}

void ServerConnection::Finish(Status status) {
  if (phase_ == Phase::kClosed) return;
  const bool announced = phase_ != Phase::kHandshake;
  phase_ = Phase::kClosed;
  close_status_ = status;
  timer_.cancel();
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  Status failed = status.ok() ? UnavailableError("the connection closed") : status;
  for (auto* list : {&inflight_sent_, &pending_sent_}) {
    std::vector<SentHandler> handlers = std::move(*list);
    list->clear();
    for (SentHandler& h : handlers) {
      if (h) h(failed);
    }
  }
  CloseHandler on_close = std::move(on_close_);
  on_close_ = nullptr;
  on_message_ = nullptr;
  if (announced && on_close) on_close(status);
  if (context_->on_finished) context_->on_finished(this);
}

void ServerConnection::Log(const std::string& what) {
  if (context_->logger == nullptr) return;
  std::string who = address_;
  if (!channel_.remote_static_key().empty()) {
    who += " (key " + core::ToHex(channel_.remote_static_key()).substr(0, 16) + ")";
  }
  context_->logger->Log(LogLevel::kInfo, "sync transport: " + who + ": " + what);
}

}  // namespace doorstep::sync::internal
