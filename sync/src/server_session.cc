#include "server_session.h"

#include "push_read_internal.h"

namespace doorstep::sync::internal {

CoreCalls::Token CoreCalls::Enter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++live_;
  }
  // The deleter holds this object (a callback may outlive its session and
  // its server).
  return Token(static_cast<void*>(this), [calls = shared_from_this()](void*) {
    std::lock_guard<std::mutex> lock(calls->mu_);
    if (--calls->live_ == 0) calls->cv_.notify_all();
  });
}

void CoreCalls::WaitNone() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return live_ == 0; });
}

namespace {

// "1.2.3.4:5678" → "1.2.3.4"; "[::1]:5678" → "[::1]".
std::string HostOf(const std::string& address) {
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

const char* ErrorCodeFor(const Status& s, bool enrolling) {
  switch (s.code()) {
    case StatusCode::kPermissionDenied: return kErrRevoked;
    case StatusCode::kResourceExhausted: return kErrRateLimited;
    case StatusCode::kUnauthenticated:
      return enrolling ? kErrEnrolmentRefused : kErrNotEnrolled;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kInvalidArgument:
      return enrolling ? kErrEnrolmentRefused : kErrBadMessage;
    case StatusCode::kUnavailable:
    case StatusCode::kAborted: return kErrUnavailable;
    default: return kErrInternal;
  }
}

}  // namespace

void ServerSession::Log(LogLevel level, const std::string& what) {
  if (env_.logger != nullptr) env_.logger->Log(level, "session " + channel_->remote_address() + ": " + what);
}

void ServerSession::Start() {
  auto self = shared_from_this();
  channel_->Start([self](std::string msg) { self->OnMessage(msg); },
                  [self](const Status& why) {
                    if (!why.ok()) self->Log(LogLevel::kDebug, "closed: " + why.ToString());
                    self->channel_.reset();
                  });
  const std::string& payload = channel_->handshake_payload();
  Result<SessionContext> ctx = core_->AuthenticatePeer(channel_->remote_static_key(), payload,
                                                       HostOf(channel_->remote_address()));
  if (!ctx.ok()) {
    Log(LogLevel::kInfo, "refused: " + ctx.status().ToString());
    Fail(ErrorCodeFor(ctx.status(), !payload.empty()), ctx.status().message());
    return;
  }
  ctx_ = std::move(ctx).value();
  authenticated_ = true;
}

void ServerSession::Send(Message msg) {
  if (channel_ == nullptr || closing_) return;
  channel_->Send(Encode(std::move(msg)));
}

void ServerSession::Fail(const char* code, const std::string& message) {
  if (channel_ == nullptr || closing_) return;
  channel_->Send(Encode(Error{code, message.substr(0, kMaxTextBytes)}));
  closing_ = true;
  channel_->Close();
}

void ServerSession::FailWith(const Status& status) {
  Log(LogLevel::kWarn, status.ToString());
  Fail(ErrorCodeFor(status, false),
       status.code() == StatusCode::kInternal ? "internal error" : status.message());
}

void ServerSession::OnMessage(const std::string& bytes) {
  if (!authenticated_ || closing_ || channel_ == nullptr) return;
  Result<Message> msg = DecodeOnServer(bytes);
  if (!msg.ok()) {
    Fail(kErrBadMessage, msg.status().message());
    return;
  }
  inbox_.push_back(std::move(msg).value());
  inbox_bytes_.push_back(bytes.size());
  Pump();
}

void ServerSession::Pump() {
  while (!inbox_.empty() && !closing_ && channel_ != nullptr) {
    if (hello_pending_) return;  // nothing is handled before the welcome
    bool push = std::holds_alternative<Push>(inbox_.front());
    if (!push && in_flight_ > 0) return;  // answered in order, after what came before
    Message msg = std::move(inbox_.front());
    size_t bytes = inbox_bytes_.front();
    inbox_.pop_front();
    inbox_bytes_.pop_front();
    Handle(msg, bytes);
  }
}

void ServerSession::Handle(Message& msg, size_t bytes) {
  if (auto* hello = std::get_if<Hello>(&msg)) {
    if (welcomed_) return Fail(kErrBadMessage, "hello sent twice");
    return HandleHello(*hello);
  }
  if (!welcomed_) return Fail(kErrBadMessage, "hello must come first");
  if (auto* push = std::get_if<Push>(&msg)) {
    ++in_flight_;
    std::weak_ptr<ServerSession> weak = shared_from_this();
    std::shared_ptr<ServerChannel> channel = channel_;
    // Which record each mutation wrote, for the answer (OnPushed).
    std::vector<std::pair<std::string, std::string>> wrote;
    wrote.reserve(push->m.size());
    for (const Mutation& m : push->m) wrote.emplace_back(m.mutation_id, m.record_id);
    core_->SubmitPush(ctx_, std::move(*push), calls_->Count([weak, channel, wrote = std::move(wrote)](Result<Pushed> r) mutable {
      // On the committer thread: carry on on the connection's strand.
      channel->Post([weak, r = std::move(r), wrote = std::move(wrote)]() mutable {
        if (auto self = weak.lock()) self->OnPushed(std::move(r), wrote);
      });
    }), bytes);
    return;
  }
  if (auto* pull = std::get_if<Pull>(&msg)) return SendBatch(pull->since, pull->max);
  if (std::holds_alternative<Bye>(msg)) {
    closing_ = true;
    channel_->Close();
    return;
  }
  Fail(kErrBadMessage, std::string("unexpected message: ") + MessageTypeName(msg));
}

template <typename T>
void ServerSession::OnAnswered(Result<T> r) {
  --in_flight_;
  if (!r.ok()) return FailWith(r.status());
  Send(std::move(r).value());
  Pump();
}

void ServerSession::OnPushed(Result<Pushed> r, const std::vector<std::pair<std::string, std::string>>& wrote) {
  if (r.ok() && records_pushed_ && channel_ != nullptr && !closing_) {
    // The answer goes out before any later batch: a revision it tells the
    // device to record itself is left out of this session's pulls. Any other
    // answer about a record drops what an earlier one said of it.
    const std::vector<MutationResult>& results = r->r;
    for (size_t i = 0; i < results.size(); ++i) {
      const MutationResult& x = results[i];
      if (i >= wrote.size() || wrote[i].first != x.id) break;  // not the push's order: keep the echo
      if (x.outcome == Outcome::kApplied && x.server_received_at != 0 && x.rev > 0) {
        cursor_.held[wrote[i].second] = PullCursor::Held{x.rev, x.id};
      } else {
        cursor_.held.erase(wrote[i].second);
      }
    }
  }
  OnAnswered(std::move(r));
}

void ServerSession::HandleHello(const Hello& hello) {
  ++in_flight_;
  hello_pending_ = true;
  std::weak_ptr<ServerSession> weak = shared_from_this();
  std::shared_ptr<ServerChannel> channel = channel_;
  core_->SubmitHello(ctx_, hello, calls_->Count([weak, channel, hello](Result<Welcome> w) {
    // On the committer thread or this one: carry on on the strand.
    channel->Post([weak, hello, w = std::move(w)]() mutable {
      if (auto self = weak.lock()) self->OnWelcome(hello, std::move(w));
    });
  }));
}

void ServerSession::OnWelcome(const Hello& hello, Result<Welcome> w) {
  --in_flight_;
  hello_pending_ = false;
  if (!w.ok()) {
    if (w.status().code() == StatusCode::kFailedPrecondition) {
      return Fail(kErrUnsupportedVersion, w.status().message());
    }
    return FailWith(w.status());
  }
  if (channel_ == nullptr || closing_) return;
  welcomed_ = true;
  records_pushed_ = hello.records_pushed;
  Send(std::move(*w));
  if (hello.pull) SendBatch(hello.since, hello.max);
  Pump();
}

void ServerSession::SendBatch(uint64_t since, uint64_t max) {
  ++in_flight_;
  std::weak_ptr<ServerSession> weak = shared_from_this();
  std::shared_ptr<ServerChannel> channel = channel_;
  core_->SubmitPull(ctx_, &cursor_, since, static_cast<size_t>(max), calls_->Count([weak, channel](Result<Batch> b) {
    channel->Post([weak, b = std::move(b)]() mutable {
      if (auto self = weak.lock()) self->OnAnswered(std::move(b));
    });
  }));
}

}  // namespace doorstep::sync::internal
