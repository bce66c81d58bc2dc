// The ordering race (issue 7): two servers (two ServerCores, each with its
// own store and connections, as two processes would have) on one database;
// concurrent pushes through both while devices pull through both. A pull
// must never move a device's checkpoint past a change that commits later,
// so after a final catch-up every device has seen every record. Runs on both
// backends; DOORSTEP_RACE_ROUNDS scales it up for a soak.
#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using testing::ServerFixtureP;

class ServerOrderingTest : public ServerFixtureP {};

int Rounds() {
  const char* v = std::getenv("DOORSTEP_RACE_ROUNDS");
  int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : 400;
}

TEST_P(ServerOrderingTest, PullsThroughTwoServersNeverSkipAChange) {
  SessionContext writer = Device("worker-1", "social_worker");
  SessionContext reader1 = Device("worker-1", "social_worker");
  SessionContext reader2 = Device("worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());

  auto second = Open(key_.Clone(), /*create=*/false);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  Env real = RealEnv();
  Env env{&clock_, real.random, &logger_};
  ServerCore a(store_.get(), env);
  ServerCore b((*second).get(), env);
  ServerCore* servers[2] = {&a, &b};

  // Batches of 1-3 new records, built up front (the fixture's helpers are
  // single-threaded).
  const int rounds = Rounds();
  std::vector<Push> pushes;
  std::set<std::string> all;
  for (int i = 0; i < rounds; ++i) {
    Push p;
    for (int k = 0; k <= i % 3; ++k) {
      std::string id = RandomHex();
      all.insert(id);
      p.m.push_back(Create(writer, id, "visit_note", "S-1", Sample("visit_note")));
    }
    pushes.push_back(std::move(p));
  }

  std::atomic<size_t> next{0};
  std::atomic<int> writers_left{3};
  std::atomic<int> push_failures{0};
  auto write = [&](int w) {
    for (size_t i; (i = next++) < pushes.size();) {
      ServerCore* s = servers[(i + static_cast<size_t>(w)) % 2];
      bool ok = false;
      for (int attempt = 0; attempt < 20 && !ok; ++attempt) ok = s->ApplyPush(writer, pushes[i]).ok();
      if (!ok) ++push_failures;
    }
    --writers_left;
  };

  // A device pulling through either server in turn, from its checkpoint.
  struct Puller {
    SessionContext who;
    uint64_t checkpoint = 0;
    std::set<std::string> seen;
    int errors = 0;
    int pulls = 0;
  };
  auto pull_once = [](Puller& p, ServerCore& s) {
    PullCursor cursor;
    for (int i = 0; i < 1000; ++i) {
      auto batch = s.Pull(p.who, &cursor, p.checkpoint, 7);
      if (!batch.ok()) {
        ++p.errors;
        return;
      }
      Batch wire = Wire(*batch);
      for (const auto& r : wire.records) p.seen.insert(r.id);
      p.checkpoint = batch->checkpoint;
      ++p.pulls;
      if (!batch->more) return;
    }
  };
  Puller p1, p2;
  p1.who = reader1;
  p2.who = reader2;
  auto read = [&](Puller& p, int start) {
    for (int turn = start; writers_left.load() > 0; ++turn) pull_once(p, *servers[turn % 2]);
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) threads.emplace_back(write, w);
  threads.emplace_back(read, std::ref(p1), 0);
  threads.emplace_back(read, std::ref(p2), 1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(push_failures.load(), 0);

  // Catch up once through each server: anything still missing was skipped.
  for (Puller* p : {&p1, &p2}) {
    pull_once(*p, a);
    pull_once(*p, b);
    EXPECT_EQ(p->errors, 0);
    EXPECT_GT(p->pulls, 2);
    std::vector<std::string> missing;
    for (const auto& id : all) {
      if (!p->seen.count(id)) missing.push_back(id);
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << all.size()
                                 << " records skipped by device " << p->who.device_id;
  }
  auto verified = a.VerifyAudit();
  EXPECT_TRUE(verified.ok()) << verified.status().ToString();
  auto txn = (*second)->Begin(TxnMode::kRead);
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(*(*txn)->CountRecords(), all.size());
}

DOORSTEP_BOTH_BACKENDS(ServerOrderingTest);

}  // namespace
}  // namespace doorstep::sync
