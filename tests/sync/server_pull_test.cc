// ServerCore::Pull: batches with more/checkpoint, snapshots for newly
// assigned subjects, purge notices, conflicts, scope.
#include <set>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using testing::ServerFixture;
using testing::ServerFixtureP;

class ServerPullTest : public ServerFixtureP {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    sw_ = Device("worker-1", "social_worker");
    other_ = Device("worker-2", "social_worker");
    ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
    ASSERT_TRUE(core_->Assign("worker-2", "S-2").ok());
  }
  std::vector<std::string> Write(const SessionContext& who, const std::string& subject, int n) {
    std::vector<std::string> ids;
    Push push;
    for (int i = 0; i < n; ++i) {
      ids.push_back(RandomHex());
      push.m.push_back(Create(who, ids.back(), "visit_note", subject, Sample("visit_note")));
    }
    auto r = core_->ApplyPush(who, push);
    EXPECT_TRUE(r.ok());
    return ids;
  }
  static std::set<std::string> Ids(const std::vector<Batch>& bs) {
    std::set<std::string> out;
    for (const auto& b : bs) for (const auto& r : b.records) out.insert(r.id);
    return out;
  }
  SessionContext sw_, other_;
};

TEST_P(ServerPullTest, BatchesCarryMoreAndCheckpoint) {
  auto ids = Write(sw_, "S-1", 25);
  Write(other_, "S-2", 5);
  auto batches = PullAll(sw_, 0, 10);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(batches[0].more);
  EXPECT_TRUE(batches[1].more);
  EXPECT_FALSE(batches[2].more);
  EXPECT_EQ(batches[0].records.size(), 10u);
  EXPECT_EQ(batches[2].records.size(), 5u);
  EXPECT_LT(batches[0].checkpoint, batches[1].checkpoint);
  EXPECT_EQ(Ids(batches), std::set<std::string>(ids.begin(), ids.end()));
  // Nothing new: an empty batch at the same checkpoint.
  auto again = PullAll(sw_, batches.back().checkpoint);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].records.empty());
  EXPECT_FALSE(again[0].more);
  EXPECT_EQ(again[0].checkpoint, batches.back().checkpoint);
}

// More changes on the caseload than the SQLite store's subject plan takes
// (2,048): the first pages walk the records by seq, the last ones look the
// caseload's subjects up; either way every record comes once, in order, and
// nothing of another caseload.
TEST_P(ServerPullTest, ManyChangesComeOnceWhicheverPlanPagesThem) {
  std::set<std::string> mine;
  for (int b = 0; b < 9; ++b) {
    for (const std::string& id : Write(sw_, "S-1", 250)) mine.insert(id);
    Write(other_, "S-2", 40);
  }
  ASSERT_EQ(mine.size(), 2250u);
  auto batches = PullAll(sw_, 0);
  ASSERT_GT(batches.size(), 1u);
  size_t n = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    n += batches[i].records.size();
    if (i > 0) {
      EXPECT_LT(batches[i - 1].checkpoint, batches[i].checkpoint);
    }
  }
  EXPECT_EQ(n, mine.size());
  EXPECT_EQ(Ids(batches), mine);
  // From half way: only what came after that checkpoint.
  auto rest = PullAll(sw_, batches[batches.size() / 2].checkpoint);
  size_t later = 0;
  for (size_t i = batches.size() / 2 + 1; i < batches.size(); ++i) later += batches[i].records.size();
  size_t got = 0;
  for (const auto& b : rest) got += b.records.size();
  EXPECT_EQ(got, later);
}

TEST_P(ServerPullTest, FixedUpperBoundWithinOnePull) {
  Write(sw_, "S-1", 4);
  PullCursor cursor;
  auto b1 = core_->Pull(sw_, &cursor, 0, 2);
  ASSERT_TRUE(b1.ok());
  b1 = Wire(*b1);
  ASSERT_TRUE(b1->more);
  Write(sw_, "S-1", 3);  // written during the pull: not in this pull
  auto b2 = core_->Pull(sw_, &cursor, b1->checkpoint, 100);
  ASSERT_TRUE(b2.ok());
  b2 = Wire(*b2);
  EXPECT_FALSE(b2->more);
  EXPECT_EQ(b1->records.size() + b2->records.size(), 4u);
  auto b3 = core_->Pull(sw_, &cursor, b2->checkpoint, 100);
  ASSERT_TRUE(b3.ok());
  b3 = Wire(*b3);
  EXPECT_EQ(b3->records.size(), 3u);
}

TEST_P(ServerPullTest, OnlyCaseloadSubjectsAreSent) {
  Write(other_, "S-2", 3);
  auto batches = PullAll(sw_, 0);
  EXPECT_TRUE(Ids(batches).empty());
}

TEST_P(ServerPullTest, NewlyAssignedSubjectGetsSnapshot) {
  auto s2 = Write(other_, "S-2", 7);
  auto first = PullAll(sw_, 0);
  uint64_t cp = first.back().checkpoint;
  ASSERT_TRUE(core_->Assign("worker-1", "S-2").ok());
  auto batches = PullAll(sw_, cp, 3);  // snapshot bigger than a batch
  EXPECT_EQ(Ids(batches), std::set<std::string>(s2.begin(), s2.end()));
  EXPECT_FALSE(batches.back().more);
}

TEST_P(ServerPullTest, UnassignSendsPurgeNotice) {
  Write(sw_, "S-1", 2);
  auto first = PullAll(sw_, 0);
  uint64_t cp = first.back().checkpoint;
  ASSERT_TRUE(core_->Unassign("worker-1", "S-1").ok());
  auto batches = PullAll(sw_, cp);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].purge, std::vector<std::string>{"S-1"});
  EXPECT_TRUE(batches[0].records.empty());
  // Later pulls no longer carry it.
  auto later = PullAll(sw_, batches[0].checkpoint);
  EXPECT_TRUE(later[0].purge.empty());
}

TEST_P(ServerPullTest, ConflictsReachBothDevices) {
  SessionContext mgr = Device("manager-1", "manager");
  ASSERT_TRUE(core_->Assign("manager-1", "S-1").ok());
  std::string id = Write(sw_, "S-1", 1)[0];
  std::string base = Sample("visit_note")["purpose"];
  PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "purpose", base, "Wording one.\n"));
  MutationResult r = PushOne(mgr, Edit(mgr, id, "visit_note", "S-1", 1, "purpose", base, "Wording two.\n"));
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  for (const SessionContext* who : {&sw_, &mgr}) {
    auto batches = PullAll(*who, 0);
    size_t n = 0;
    for (const auto& b : batches) {
      for (const auto& c : b.conflicts) {
        ++n;
        EXPECT_EQ(c.server, "Wording one.\n");
        EXPECT_EQ(c.device, "Wording two.\n");
        EXPECT_EQ(c.state, ConflictState::kOpen);
      }
    }
    EXPECT_EQ(n, 1u);
  }
}

TEST_P(ServerPullTest, RevokedDeviceCannotPull) {
  ASSERT_TRUE(core_->Revoke(sw_.device_id).ok());
  PullCursor cursor;
  EXPECT_EQ(core_->Pull(sw_, &cursor, 0, 0).status().code(), StatusCode::kPermissionDenied);
}

// A push's answer says when its revision is exactly the device's record
// (server_received_at); the session then holds it (PullCursor::held) and its
// pulls leave it out while it is the head, moving the checkpoint past it,
// with no audit entry for a batch that carries nothing.
TEST_P(ServerPullTest, HeldRevisionIsLeftOutButPassed) {
  SessionContext mgr = Device("manager-1", "manager");
  ASSERT_TRUE(core_->Assign("manager-1", "S-1").ok());
  const std::string id = RandomHex();
  Mutation m = Create(sw_, id, "visit_note", "S-1", Sample("visit_note"));
  MutationResult r = PushOne(sw_, m);
  ASSERT_EQ(r.outcome, Outcome::kApplied);
  EXPECT_GT(r.server_received_at, 0);
  auto txn = store_->Begin(TxnMode::kRead);
  ASSERT_TRUE(txn.ok());
  auto head = (*txn)->GetHead(id);
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->record.server_received_at, r.server_received_at);
  const uint64_t upto = *(*txn)->MaxSeq();
  txn->reset();

  auto audit_before = core_->VerifyAudit();
  ASSERT_TRUE(audit_before.ok());
  PullCursor cursor;
  cursor.held[id] = PullCursor::Held{r.rev, m.mutation_id};
  auto b = core_->Pull(sw_, &cursor, 0, 0);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->raw_records.empty());
  EXPECT_FALSE(b->more);
  EXPECT_EQ(b->checkpoint, upto);
  EXPECT_EQ(*core_->VerifyAudit(), *audit_before);  // nothing sent: no pull entry
  // Without the session's word the same pull sends it.
  EXPECT_EQ(Ids(PullAll(sw_, 0)), std::set<std::string>{id});

  // Another device's later revision of the record is not held: it comes.
  const json sample = Sample("visit_note");
  MutationResult later = PushOne(mgr, Edit(mgr, id, "visit_note", "S-1", 1, "location", sample["location"],
                                           "Changed by the manager"));
  ASSERT_EQ(later.outcome, Outcome::kApplied);
  auto b2 = core_->Pull(sw_, &cursor, b->checkpoint, 0);
  ASSERT_TRUE(b2.ok());
  Batch wire = Wire(*b2);
  ASSERT_EQ(wire.records.size(), 1u);
  EXPECT_EQ(wire.records[0].rev, 2);

  // A merged change (its base is behind the head) is not the device's record.
  MutationResult merged = PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "announced", true, false));
  EXPECT_EQ(merged.outcome, Outcome::kMerged);
  EXPECT_EQ(merged.server_received_at, 0);
  // Nor one whose `from` is not the head's value, even on the head's base.
  const std::string id2 = RandomHex();
  ASSERT_EQ(PushOne(sw_, Create(sw_, id2, "visit_note", "S-1", sample)).outcome, Outcome::kApplied);
  MutationResult stale = PushOne(sw_, Edit(sw_, id2, "visit_note", "S-1", 1, "location", "Not what it was", "Mine"));
  EXPECT_EQ(stale.outcome, Outcome::kConflict);
  EXPECT_EQ(stale.server_received_at, 0);
  // An applied change on the head with the head's `from` is, and a replay
  // of it answers the same.
  Mutation again = Edit(sw_, id, "visit_note", "S-1", 3, "announced", false, true);
  MutationResult applied = PushOne(sw_, again);
  EXPECT_EQ(applied.outcome, Outcome::kApplied);
  EXPECT_GT(applied.server_received_at, 0);
  MutationResult replay = PushOne(sw_, again);
  EXPECT_EQ(replay.rev, applied.rev);
  EXPECT_EQ(replay.server_received_at, applied.server_received_at);
}

DOORSTEP_BOTH_BACKENDS(ServerPullTest);

}  // namespace
}  // namespace doorstep::sync
