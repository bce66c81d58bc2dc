// ServerCore's group committer: push batches from many sessions that queue
// up while a commit is running are applied in one write transaction with one
// durable commit (synchronous=FULL: one fsync for all of them), and each
// session is answered only once that commit has returned.
//
// Each batch stays atomic: the shared transaction either commits with every
// batch in it or not at all. If any batch fails (a storage error, a device
// revoked meanwhile) or the commit fails, the whole transaction is rolled
// back and each batch is applied again in a transaction of its own, so one
// session's failure is not another's. A pull's audit entry ("pull", which
// must be stored before the batch leaves) and a hello's last_seen_at take
// the same path (no commit and fsync of their own).
#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "doorstep/sync/server_core.h"
#include "server_core_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

ServerCore::~ServerCore() {
  std::thread committer;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    committer = std::move(committer_);
  }
  queue_cv_.notify_all();
  room_cv_.notify_all();
  if (committer.joinable()) committer.join();
}

void ServerCore::SubmitPush(const SessionContext& ctx, Push push, PushDone done, size_t wire_bytes) {
  if (push.m.size() > kMaxMutationsPerPush) {
    done(InvalidArgumentError("push: too many mutations"));
    return;
  }
  // Shared by apply (which may run twice) and done.
  struct State {
    SessionContext ctx;
    Push push;
    Pushed result;
  };
  auto state = std::make_shared<State>(State{ctx, std::move(push), {}});
  QueuedWrite w;
  w.mutations = state->push.m.size();
  w.bytes = wire_bytes != 0 ? wire_bytes : std::max<size_t>(1, w.mutations) * 1024;
  w.apply = [this, state](ServerTxn& txn) -> Status {
    DS_ASSIGN_OR_RETURN(state->result, ApplyPushInTxn(txn, state->ctx, state->push, nullptr));
    return Status::Ok();
  };
  w.done = [state, done = std::move(done)](Status s) {
    if (!s.ok()) return done(std::move(s));
    done(std::move(state->result));
  };
  Submit(std::move(w));
}

void ServerCore::SubmitPull(const SessionContext& ctx, PullCursor* cursor, uint64_t since,
                            size_t max, PullDone done) {
  json audit;
  std::string actor;
  Result<Batch> b = ReadPull(ctx, cursor, since, max, &audit, &actor);
  if (!b.ok() || audit.is_null()) return done(std::move(b));
  auto batch = std::make_shared<Batch>(std::move(b).value());
  QueuedWrite w;
  w.mutations = 1;
  w.apply = [this, audit = std::move(audit), actor = std::move(actor)](ServerTxn& txn) {
    return internal::AppendAuditEntry(txn, env_, actor, "pull", audit);
  };
  w.done = [batch, done = std::move(done)](Status s) {
    if (!s.ok()) return done(std::move(s));
    done(std::move(*batch));
  };
  Submit(std::move(w));
}

void ServerCore::SubmitHello(const SessionContext& ctx, const sync::Hello& hello, HelloDone done) {
  int64_t now = env_.clock->NowMillis();
  bool touch = false;
  Result<Welcome> w = HelloRead(ctx, hello, now, &touch);
  if (!w.ok() || !touch) return done(std::move(w));
  auto welcome = std::make_shared<Welcome>(std::move(w).value());
  QueuedWrite q;
  q.mutations = 1;
  q.apply = [this, ctx, now](ServerTxn& txn) { return TouchInTxn(txn, ctx, now); };
  q.done = [welcome, done = std::move(done)](Status s) {
    if (!s.ok()) return done(std::move(s));
    done(std::move(*welcome));
  };
  Submit(std::move(q));
}

void ServerCore::Submit(QueuedWrite w) {
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (w.bytes > 0 && committer_.get_id() != std::this_thread::get_id()) {
      // Admission control (kMaxQueuedPushBytes): wait for earlier batches.
      // Waiters are let in first come, first served (a ticket each), so a
      // big push waiting for an empty queue is not overtaken for ever by
      // small ones from other threads.
      const uint64_t ticket = next_ticket_++;
      room_cv_.wait(lock, [&] {
        return stopping_ || (ticket == serving_ticket_ &&
                             (queued_bytes_ == 0 || queued_bytes_ + w.bytes <= kMaxQueuedPushBytes));
      });
      ++serving_ticket_;
      room_cv_.notify_all();  // the next ticket may fit too
    }
    if (!stopping_) {
      queued_bytes_ += w.bytes;
      queue_.push_back(std::move(w));
      if (!committer_.joinable()) committer_ = std::thread([this] { CommitLoop(); });
      queue_cv_.notify_one();
      return;
    }
  }
  w.done(UnavailableError("the server is stopping"));
}

void ServerCore::CommitLoop() {
  std::vector<QueuedWrite> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      size_t mutations = 0;
      while (!queue_.empty() && group.size() < kMaxBatchesPerCommit &&
             (group.empty() || mutations + queue_.front().mutations <= kMaxMutationsPerCommit)) {
        mutations += queue_.front().mutations;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    group.clear();
  }
}

void ServerCore::CommitGroup(std::vector<QueuedWrite>& group) {
  if (group.size() > 1) {
    Status s;
    {
      Result<std::unique_ptr<ServerTxn>> txn = store_->Begin(TxnMode::kWrite);
      s = txn.status();
      for (size_t i = 0; s.ok() && i < group.size(); ++i) s = group[i].apply(**txn);
      if (s.ok()) s = (*txn)->Commit();
      // Destroying an uncommitted transaction rolls it back.
    }
    if (s.ok()) {
      for (QueuedWrite& w : group) {
        w.done(Status::Ok());
        Release(w.bytes);
      }
      return;
    }
  }
  // One write, or a group that failed: each write in its own transaction.
  for (QueuedWrite& w : group) {
    Status s;
    {
      Result<std::unique_ptr<ServerTxn>> txn = store_->Begin(TxnMode::kWrite);
      s = txn.status();
      if (s.ok()) s = w.apply(**txn);
      if (s.ok()) s = (*txn)->Commit();
    }
    w.done(std::move(s));
    Release(w.bytes);
  }
}

void ServerCore::Release(size_t bytes) {
  if (bytes == 0) return;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queued_bytes_ -= bytes;
  }
  room_cv_.notify_all();
}

}  // namespace doorstep::sync
