// ServerCore's group committer: push batches from many sessions that queue
// up while a commit is running are applied in one write transaction with one
// durable commit (synchronous=FULL: one fsync for all of them), and each
// session is answered only once that commit has returned.
//
// Each batch stays atomic: the shared transaction either commits with every
// batch in it or not at all. If any batch fails (a storage error, a device
// revoked meanwhile) or the commit fails, the whole transaction is rolled
// back and each batch is applied again in a transaction of its own, so one
// session's failure is not another's.
#include <utility>

#include "doorstep/sync/server_core.h"

namespace doorstep::sync {

ServerCore::~ServerCore() {
  std::thread committer;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    committer = std::move(committer_);
  }
  queue_cv_.notify_all();
  if (committer.joinable()) committer.join();
}

void ServerCore::SubmitPush(const SessionContext& ctx, Push push, PushDone done) {
  if (push.m.size() > kMaxMutationsPerPush) {
    done(InvalidArgumentError("push: too many mutations"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stopping_) {
      queue_.push_back(QueuedPush{ctx, std::move(push), std::move(done)});
      if (!committer_.joinable()) committer_ = std::thread([this] { CommitLoop(); });
      queue_cv_.notify_one();
      return;
    }
  }
  done(UnavailableError("the server is stopping"));
}

void ServerCore::CommitLoop() {
  std::vector<QueuedPush> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      size_t mutations = 0;
      while (!queue_.empty() && group.size() < kMaxBatchesPerCommit &&
             (group.empty() || mutations + queue_.front().push.m.size() <= kMaxMutationsPerCommit)) {
        mutations += queue_.front().push.m.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(group);
    group.clear();
  }
}

void ServerCore::CommitGroup(std::vector<QueuedPush>& group) {
  if (group.size() > 1) {
    std::vector<Pushed> results;
    results.reserve(group.size());
    Status s;
    {
      Result<std::unique_ptr<ServerTxn>> txn = store_->Begin(TxnMode::kWrite);
      s = txn.status();
      for (size_t i = 0; s.ok() && i < group.size(); ++i) {
        Result<Pushed> r = ApplyPushInTxn(**txn, group[i].ctx, group[i].push, nullptr);
        s = r.status();
        if (r.ok()) results.push_back(std::move(r).value());
      }
      if (s.ok()) s = (*txn)->Commit();
      // Destroying an uncommitted transaction rolls it back.
    }
    if (s.ok()) {
      for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));
      return;
    }
  }
  // One batch, or a group that failed: each batch in its own transaction.
  for (QueuedPush& q : group) q.done(ApplyPush(q.ctx, q.push));
}

}  // namespace doorstep::sync
