// ServerCore::SubmitPush (group commit): batches submitted at once from many
// threads are each answered exactly as ApplyPush would answer them, each
// only once stored, in submission order per submitter; a batch that fails
// (its device revoked meanwhile) fails alone while the others of its group
// are applied; the audit chain verifies.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

TEST_P(ServerGroupCommitTest, PushesPastTheQueuedBytesCapWaitForRoom) {
  SessionContext a = Device("worker-a", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-a", "child-a").ok());
  auto one = [&] {
    Push p;
    p.m.push_back(Create(a, RandomHex(), "visit_note", "child-a", Sample("visit_note")));
    return p;
  };
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::promise<Result<Pushed>> first_done, inner_done, second_done;
  // The first push fills the cap; its answer is held (on the committer
  // thread), so its bytes stay queued. A push submitted from there (the
  // committer thread) is not held up by the cap.
  core_->SubmitPush(a, one(), [&](Result<Pushed> r) {
    core_->SubmitPush(a, one(), [&](Result<Pushed> r2) { inner_done.set_value(std::move(r2)); },
                      kMaxQueuedPushBytes);
    first_done.set_value(std::move(r));
    open.wait();
  }, kMaxQueuedPushBytes);
  ASSERT_TRUE(first_done.get_future().get().ok());
  std::atomic<bool> submitted{false};
  std::thread t([&] {
    core_->SubmitPush(a, one(), [&](Result<Pushed> r) { second_done.set_value(std::move(r)); }, 1);
    submitted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(submitted.load());  // waiting for room
  gate.set_value();
  t.join();
  EXPECT_TRUE(submitted.load());
  Result<Pushed> second = second_done.get_future().get();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->r.at(0).outcome, Outcome::kApplied);
  Result<Pushed> inner = inner_done.get_future().get();
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(inner->r.at(0).outcome, Outcome::kApplied);
}

TEST_P(ServerGroupCommitTest, WaitingPushesAreLetInFirstComeFirstServed) {
  SessionContext a = Device("worker-a", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-a", "child-a").ok());
  auto one = [&] {
    Push p;
    p.m.push_back(Create(a, RandomHex(), "visit_note", "child-a", Sample("visit_note")));
    return p;
  };
  std::promise<void> gate, first_done;
  std::shared_future<void> open = gate.get_future().share();
  // Nearly full: a push as big as the cap waits for an empty queue.
  core_->SubmitPush(a, one(), [&](Result<Pushed>) {
    first_done.set_value();
    open.wait();
  }, kMaxQueuedPushBytes - 10);
  first_done.get_future().wait();
  std::promise<Result<Pushed>> big_done, small_done;
  std::atomic<bool> big_in{false}, small_in{false};
  // Made here: the fixture's random source is not shared between threads.
  Push big_push = one(), small_push = one();
  std::thread big([&] {
    core_->SubmitPush(a, std::move(big_push), [&](Result<Pushed> r) { big_done.set_value(std::move(r)); },
                      kMaxQueuedPushBytes);
    big_in = true;
  });
  // Long enough for the big push to be waiting even on a loaded machine or
  // under a sanitizer.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // This one would fit, but the big one came first: it must not overtake.
  std::thread small([&] {
    core_->SubmitPush(a, std::move(small_push), [&](Result<Pushed> r) { small_done.set_value(std::move(r)); }, 5);
    small_in = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(big_in.load());
  EXPECT_FALSE(small_in.load());
  gate.set_value();
  big.join();
  small.join();
  EXPECT_TRUE(big_done.get_future().get().ok());
  EXPECT_TRUE(small_done.get_future().get().ok());
}

// Hello through the committer: a due last_seen_at is stored before the
// welcome is given; a hello within the minute writes nothing.
TEST_P(ServerGroupCommitTest, SubmitHelloStoresLastSeenBeforeWelcoming) {
  SessionContext a = Device("worker-a", "social_worker");
  auto hello = [&](const Hello& h) {
    std::promise<Result<Welcome>> done;
    auto f = done.get_future();
    core_->SubmitHello(a, h, [&done](Result<Welcome> w) { done.set_value(std::move(w)); });
    return f.get();
  };
  auto last_seen = [&]() -> int64_t {
    auto txn = store_->Begin(TxnMode::kRead);
    EXPECT_TRUE(txn.ok());
    auto d = (*txn)->GetDevice(a.device_id);
    EXPECT_TRUE(d.ok() && d->has_value());
    return d.ok() && d->has_value() ? (*d)->last_seen_at : -1;
  };
  const int64_t t0 = clock_.NowMillis();
  Result<Welcome> w = hello(Hello{});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->device_id, a.device_id);
  EXPECT_EQ(last_seen(), t0);
  clock_.AdvanceMillis(10'000);  // seen within the minute: not written again
  ASSERT_TRUE(hello(Hello{}).ok());
  EXPECT_EQ(last_seen(), t0);
  clock_.AdvanceMillis(60'000);
  ASSERT_TRUE(hello(Hello{}).ok());
  EXPECT_EQ(last_seen(), clock_.NowMillis());
  Hello old;
  old.v = kProtocolVersion + 1;
  EXPECT_EQ(hello(old).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(core_->Revoke(a.device_id).ok());
  EXPECT_EQ(hello(Hello{}).status().code(), StatusCode::kPermissionDenied);
}

DOORSTEP_BOTH_BACKENDS(ServerGroupCommitTest);

}  // namespace
}  // namespace doorstep::sync
