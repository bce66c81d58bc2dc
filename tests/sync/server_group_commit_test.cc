// ServerCore::SubmitPush (group commit): batches submitted at once from many
// threads are each answered exactly as ApplyPush would answer them, each
// only once stored, in submission order per submitter; a batch that fails
// (its device revoked meanwhile) fails alone while the others of its group
// are applied; the audit chain verifies.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

class ServerGroupCommitTest : public testing::ServerFixtureP {};

Result<Pushed> SubmitAndWait(ServerCore& core, const SessionContext& who, Push push) {
  std::promise<Result<Pushed>> done;
  auto f = done.get_future();
  core.SubmitPush(who, std::move(push), [&done](Result<Pushed> r) { done.set_value(std::move(r)); });
  return f.get();
}

TEST_P(ServerGroupCommitTest, ConcurrentBatchesAreEachAppliedOnceAndAnsweredAfterCommit) {
  constexpr int kDevices = 12, kBatches = 3, kPerBatch = 20;
  std::vector<SessionContext> who;
  for (int d = 0; d < kDevices; ++d) {
    who.push_back(Device("worker-" + std::to_string(d), "social_worker"));
    ASSERT_TRUE(core_->Assign("worker-" + std::to_string(d), "child-" + std::to_string(d)).ok());
  }
  std::vector<std::vector<Push>> pushes(kDevices, std::vector<Push>(kBatches));
  for (int d = 0; d < kDevices; ++d) {
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < kPerBatch; ++i) {
        pushes[d][b].m.push_back(Create(who[d], RandomHex(), "visit_note", "child-" + std::to_string(d),
                                        Sample("visit_note")));
      }
    }
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int d = 0; d < kDevices; ++d) {
    threads.emplace_back([&, d] {
      // All of a device's batches in flight at once, answered in order.
      std::vector<std::promise<Result<Pushed>>> done(kBatches);
      for (int b = 0; b < kBatches; ++b) {
        core_->SubmitPush(who[d], pushes[d][b], [&done, b](Result<Pushed> r) { done[b].set_value(std::move(r)); });
      }
      for (int b = 0; b < kBatches; ++b) {
        Result<Pushed> r = done[b].get_future().get();
        if (!r.ok() || r->r.size() != kPerBatch) {
          ++failures;
          continue;
        }
        for (int i = 0; i < kPerBatch; ++i) {
          if (r->r[i].id != pushes[d][b].m[i].mutation_id || r->r[i].outcome != Outcome::kApplied) ++failures;
        }
        // Answered means stored: a new transaction sees every mutation.
        auto txn = store_->Begin(TxnMode::kRead);
        if (!txn.ok()) {
          ++failures;
          continue;
        }
        for (const Mutation& m : pushes[d][b].m) {
          auto stored = (*txn)->GetMutationResult(m.mutation_id);
          if (!stored.ok() || !stored->has_value()) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // A replay through the committer answers the stored results.
  auto again = SubmitAndWait(*core_, who[0], pushes[0][0]);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (const MutationResult& m : again->r) EXPECT_EQ(m.rev, 1);
  auto verified = core_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
}

TEST_P(ServerGroupCommitTest, AFailingBatchFailsAloneAndStoresNothing) {
  SessionContext a = Device("worker-a", "social_worker");
  SessionContext b = Device("worker-b", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-a", "child-a").ok());
  ASSERT_TRUE(core_->Assign("worker-b", "child-b").ok());
  ASSERT_TRUE(core_->Revoke(b.device_id).ok());
  // Many batches queued together so that some share a transaction with b's.
  constexpr int kRounds = 8;
  std::vector<Push> good(kRounds), bad(kRounds);
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 0; i < 5; ++i) {
      good[r].m.push_back(Create(a, RandomHex(), "visit_note", "child-a", Sample("visit_note")));
      bad[r].m.push_back(Create(b, RandomHex(), "visit_note", "child-b", Sample("visit_note")));
    }
  }
  std::vector<std::promise<Result<Pushed>>> good_done(kRounds), bad_done(kRounds);
  for (int r = 0; r < kRounds; ++r) {
    core_->SubmitPush(a, good[r], [&good_done, r](Result<Pushed> x) { good_done[r].set_value(std::move(x)); });
    core_->SubmitPush(b, bad[r], [&bad_done, r](Result<Pushed> x) { bad_done[r].set_value(std::move(x)); });
  }
  for (int r = 0; r < kRounds; ++r) {
    Result<Pushed> g = good_done[r].get_future().get();
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    for (const MutationResult& m : g->r) EXPECT_EQ(m.outcome, Outcome::kApplied);
    Result<Pushed> x = bad_done[r].get_future().get();
    EXPECT_EQ(x.status().code(), StatusCode::kPermissionDenied) << x.status().ToString();
  }
  auto txn = store_->Begin(TxnMode::kRead);
  ASSERT_TRUE(txn.ok());
  for (const Push& p : bad) {
    for (const Mutation& m : p.m) {
      auto stored = (*txn)->GetMutationResult(m.mutation_id);
      ASSERT_TRUE(stored.ok());
      EXPECT_FALSE(stored->has_value());
    }
  }
  txn->reset();
  auto verified = core_->VerifyAudit();
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
}

TEST_P(ServerGroupCommitTest, OversizedBatchIsRefusedAtOnce) {
  SessionContext a = Device("worker-a", "social_worker");
  Push p;
  p.m.resize(kMaxMutationsPerPush + 1);
  auto r = SubmitAndWait(*core_, a, std::move(p));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

DOORSTEP_BOTH_BACKENDS(ServerGroupCommitTest);

}  // namespace
}  // namespace doorstep::sync
