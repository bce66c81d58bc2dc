// One sync session on the server (see sync_server.h). Private to sync/.
// All its methods run on its connection's strand.
#ifndef DOORSTEP_SYNC_SERVER_SESSION_H_
#define DOORSTEP_SYNC_SERVER_SESSION_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "doorstep/core/env.h"
#include "doorstep/sync/channel_server.h"
#include "doorstep/sync/protocol.h"
#include "doorstep/sync/server_core.h"

namespace doorstep::sync::internal {

// The calls a server's sessions have handed to the server core whose
// callbacks have not yet been destroyed. A callback runs on the core's
// committer thread and posts into the server's io_context (and holds the
// connection, whose socket belongs to it), so the server waits for none to
// be left (WaitNone) before it destroys the io_context.
class CoreCalls : public std::enable_shared_from_this<CoreCalls> {
 public:
  // Held by a callback (copies share it): the call counts until the last
  // copy is gone.
  using Token = std::shared_ptr<void>;
  static std::shared_ptr<CoreCalls> Make() { return std::shared_ptr<CoreCalls>(new CoreCalls()); }
  Token Enter();
  // Blocks until no call is left.
  void WaitNone();
  // `f` with a token: the token is destroyed after `f` (and what it holds).
  template <typename F>
  struct Counted {
    Token token;  // first: destroyed last
    F f;
    template <typename... A>
    void operator()(A&&... a) {
      f(std::forward<A>(a)...);
    }
  };
  template <typename F>
  Counted<F> Count(F f) {
    return Counted<F>{Enter(), std::move(f)};
  }

 private:
  CoreCalls() = default;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t live_ = 0;
};

class ServerSession : public std::enable_shared_from_this<ServerSession> {
 public:
  ServerSession(ServerCore* core, std::shared_ptr<ServerChannel> channel, Env env,
                std::shared_ptr<CoreCalls> calls)
      : core_(core), channel_(std::move(channel)), env_(env), calls_(std::move(calls)) {}

  // Authenticates the peer and starts reading messages.
  void Start();

 private:
  void OnMessage(const std::string& bytes);
  // Handles queued messages in order: a push goes to the group committer
  // (several pushes may be in flight; a push submitted past the committer's
  // queued-bytes cap waits on this thread, kMaxQueuedPushBytes); any other
  // message waits until everything before it has been answered, and
  // nothing is handled while hello awaits its welcome (a due last_seen_at
  // write goes through the group committer). A pull's batch is sent once its
  // audit entry is committed (through the group committer too).
  void Pump();
  void Handle(Message& msg, size_t bytes);  // bytes: its size on the wire
  // A push's or pull's answer, back on the strand: sends it, carries on.
  template <typename T>
  void OnAnswered(Result<T> r);
  // A push's answer: notes the revisions it tells the device to record
  // itself (PullCursor::held), then as OnAnswered. `wrote`: each pushed
  // mutation's id and record id, in order.
  void OnPushed(Result<Pushed> r, const std::vector<std::pair<std::string, std::string>>& wrote);
  // Submits hello (its last_seen_at write goes through the group
  // committer); OnWelcome answers it back on the strand, then carries on.
  void HandleHello(const Hello& hello);
  void OnWelcome(const Hello& hello, Result<Welcome> w);
  void SendBatch(uint64_t since, uint64_t max);
  void Send(Message msg);
  // Sends an error message and closes the session.
  void Fail(const char* code, const std::string& message);
  void FailWith(const Status& status);
  void Log(LogLevel level, const std::string& what);

  ServerCore* core_;
  std::shared_ptr<ServerChannel> channel_;
  Env env_;
  std::shared_ptr<CoreCalls> calls_;
  SessionContext ctx_;
  PullCursor cursor_;
  bool authenticated_ = false;
  bool welcomed_ = false;
  bool hello_pending_ = false;    // hello submitted, not yet answered
  bool records_pushed_ = false;   // hello.records_pushed: PullCursor::held is used
  bool closing_ = false;
  std::deque<Message> inbox_;     // decoded, not yet handled
  std::deque<size_t> inbox_bytes_;  // each inbox_ message's size on the wire
  size_t in_flight_ = 0;          // pushes and pulls submitted, not yet answered
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_SERVER_SESSION_H_
