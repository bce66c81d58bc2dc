// Store format 4 (docs/store.md, "Store format 4"): a local write queues its
// mutation in its own version row (the mutation's seq is the version's), so
// it writes no pending row. A push's answer moves meta queue_from past the
// answered mutations when they are the oldest queued, and clears the row of
// one answered ahead of an older one; a rejected mutation moves to
// `pending`. A version's seq never falls below queue_from, even after a
// purge has deleted the newest rows, so a new mutation is never taken for
// one already pushed.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"

namespace doorstep::core {
namespace {

class StoreFormat4Test : public testing::UnlockedStoreTest {
 protected:
  StoreFormat4Test() : UnlockedStoreTest(/*seed=*/44, 1'764'000'000'000, '\x44') {}

  std::string AddNote(const std::string& subject = "S-Q") {
    clock_.AdvanceMillis(1000);
    auto w = store_->Add("visit_note", subject, SampleFields("visit_note", clock_.NowMillis()), "draft");
    EXPECT_TRUE(w.ok() && w->saved());
    return w.ok() ? w->record.id : "";
  }

  std::vector<OutgoingMutation> Pending() {
    auto m = PendingMutations(*store_, 1000);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : std::vector<OutgoingMutation>{};
  }

  // One value read from the store file directly.
  std::string Raw(const std::string& sql) { return testing::RawQuery(path_, sql); }

  int64_t PendingCount() {
    auto s = store_->GetStatus();
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->pending : -1;
  }

  static MutationAck Applied(const OutgoingMutation& m) { return {m.mutation_id, "applied", 1, ""}; }
};

TEST_F(StoreFormat4Test, LocalWritesQueueInTheirOwnVersionRows) {
  std::string a = AddNote();
  AddNote();
  auto e = store_->Edit(a, {{"location", "School"}}, std::nullopt);
  ASSERT_TRUE(e.ok() && e->saved());
  EXPECT_EQ(Raw("SELECT count(*) FROM pending"), "0");
  EXPECT_EQ(Raw("SELECT count(*) FROM versions WHERE mutation = seq AND length(session) = 12 AND pdetail IS NULL"),
            "3");
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_EQ(m.size(), 3u);
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].seq, m[i].version);
    EXPECT_EQ(m[i].mutation_id.substr(24), std::string("0000000") + std::to_string(i + 1));
  }
  EXPECT_EQ(m[2].record.id, a);
  EXPECT_EQ(m[2].changes.size(), 1u);
  EXPECT_EQ(PendingCount(), 3);
}

TEST_F(StoreFormat4Test, AnswersToTheOldestMutationsMoveTheQueueWithoutRewritingRows) {
  for (int i = 0; i < 5; ++i) AddNote();
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_EQ(m.size(), 5u);
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[0]), Applied(m[1]), Applied(m[2])}).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "4");
  EXPECT_EQ(Raw("SELECT count(*) FROM versions WHERE session IS NOT NULL"), "5") << "no row rewritten";
  std::vector<OutgoingMutation> left = Pending();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].mutation_id, m[3].mutation_id);
  EXPECT_EQ(PendingCount(), 2);
  // The rest: the queue moves past the last one.
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[3]), Applied(m[4])}).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "6");
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(PendingCount(), 0);
  // The next write queues after them, and stays so across a reopen.
  AddNote();
  store_.reset();
  store_ = OpenUnlocked();
  ASSERT_EQ(Pending().size(), 1u);
  EXPECT_EQ(Pending()[0].seq, 6);
}

TEST_F(StoreFormat4Test, AnAnswerAheadOfAnOlderMutationClearsOnlyItsRow) {
  for (int i = 0; i < 4; ++i) AddNote();
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[1])}).ok());
  EXPECT_EQ(Raw("SELECT coalesce((SELECT value FROM meta WHERE key='queue_from'), 1)"), "1");
  EXPECT_EQ(Raw("SELECT group_concat(seq) FROM versions WHERE session IS NULL"), "2");
  std::vector<OutgoingMutation> left = Pending();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].mutation_id, m[0].mutation_id);
  EXPECT_EQ(left[1].mutation_id, m[2].mutation_id);
  // Now the oldest: the queue moves past both, to the first still queued.
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[0])}).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "3");
  left = Pending();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].mutation_id, m[2].mutation_id);
  EXPECT_EQ(PendingCount(), 2);
}

// Pulled rows are never queued: a pull moves queue_from past them when
// nothing is queued, so the queue's range (what the push and the status
// count read) does not grow with every record pulled since the last push.
TEST_F(StoreFormat4Test, APullMovesTheQueuePastItsRowsOnlyWhenNothingIsQueued) {
  auto pulled = [&](char c) { return testing::PulledVisitNote(std::string(32, c), "S-PULL", clock_.NowMillis()); };
  AddNote();  // version 1, queued
  ASSERT_TRUE(ApplyPulledBatch(*store_, std::vector<Record>{pulled('1'), pulled('2'), pulled('3')}, {}, {}, 1).ok());
  EXPECT_EQ(Raw("SELECT coalesce((SELECT value FROM meta WHERE key='queue_from'), 1)"), "1") << "1 is still queued";
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_EQ(m.size(), 1u);
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[0])}).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "5") << "past the pulled rows 2-4";
  ASSERT_TRUE(ApplyPulledBatch(*store_, std::vector<Record>{pulled('5'), pulled('6')}, {}, {}, 2).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "7");
  EXPECT_EQ(PendingCount(), 0);
  std::string id = AddNote();
  m = Pending();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].record.id, id);
  EXPECT_EQ(m[0].seq, 7);
}

TEST_F(StoreFormat4Test, ARepeatedAnswerChangesNothing) {
  for (int i = 0; i < 3; ++i) AddNote();
  std::vector<OutgoingMutation> m = Pending();
  // The same answer twice in one push, and again in a later one (a retry).
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[0]), Applied(m[0]),
                                      {m[2].mutation_id, "rejected", 0, "not on caseload"},
                                      {m[2].mutation_id, "rejected", 0, "not on caseload"}}).ok());
  ASSERT_TRUE(ApplyPushAcks(*store_, {Applied(m[0]), {m[2].mutation_id, "rejected", 0, "again"}}).ok());
  std::vector<OutgoingMutation> left = Pending();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].mutation_id, m[1].mutation_id);
  EXPECT_EQ(Raw("SELECT count(*) FROM pending"), "1");
  auto status = store_->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->pending, 1);
  EXPECT_EQ(status->rejected, 1);
  ASSERT_EQ(status->rejected_details.size(), 1u);
  EXPECT_EQ(status->rejected_details[0]["reason"], "not on caseload");
  // An id that is not one of ours, or of another session, matches nothing.
  std::string other = m[1].mutation_id;
  other[0] = other[0] == 'a' ? 'b' : 'a';
  ASSERT_TRUE(ApplyPushAcks(*store_, {{other, "applied", 1, ""}, {"not-an-id", "rejected", 0, "x"}}).ok());
  EXPECT_EQ(Pending().size(), 1u);
  EXPECT_EQ(store_->GetStatus()->rejected, 1);
}

TEST_F(StoreFormat4Test, ARejectedMutationIsKeptWithItsRecordThroughAPurge) {
  std::string kept = AddNote("S-P");
  AddNote("S-P");
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_TRUE(ApplyPushAcks(*store_, {{m[0].mutation_id, "rejected", 0, "not on caseload"}}).ok());
  EXPECT_EQ(Raw("SELECT seq || '|' || version || '|' || state FROM pending"), "1|1|1");
  // The purge deletes the other record, and the queued mutation of the one
  // it keeps: nothing of S-P is pushed after it.
  auto e = store_->Edit(kept, {{"location", "Clinic"}}, std::nullopt);
  ASSERT_TRUE(e.ok() && e->saved());
  ASSERT_EQ(Pending().size(), 2u);
  auto pulled = ApplyPulledBatch(*store_, std::vector<Record>{}, {}, {"S-P"}, 5);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->purged, 1);
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(PendingCount(), 0);
  EXPECT_TRUE(store_->Get(kept).ok());
  EXPECT_EQ(store_->GetStatus()->rejected, 1);
}

TEST_F(StoreFormat4Test, AfterAPurgeOfTheNewestVersionsANewMutationIsStillQueued) {
  AddNote("S-KEEP");
  for (int i = 0; i < 3; ++i) AddNote("S-GONE");
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_EQ(m.size(), 4u);
  std::vector<MutationAck> acks;
  for (const OutgoingMutation& x : m) acks.push_back(Applied(x));
  ASSERT_TRUE(ApplyPushAcks(*store_, acks).ok());
  EXPECT_EQ(Raw("SELECT value FROM meta WHERE key='queue_from'"), "5");
  // The purge deletes versions 2-4, the newest: max(seq) is 1 again.
  ASSERT_TRUE(ApplyPulledBatch(*store_, std::vector<Record>{}, {}, {"S-GONE"}, 9).ok());
  EXPECT_EQ(Raw("SELECT max(seq) FROM versions"), "1");
  // In a new session (no counter carried over), a new write must still take
  // a seq at or above queue_from: below it, it would count as pushed.
  store_.reset();
  store_ = OpenUnlocked();
  std::string id = AddNote("S-KEEP");
  std::vector<OutgoingMutation> left = Pending();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.id, id);
  EXPECT_EQ(left[0].seq, 5);
  EXPECT_EQ(PendingCount(), 1);
}

TEST_F(StoreFormat4Test, AResolveCarriesItsSealedDetailInItsRow) {
  std::string id = AddNote();
  ASSERT_TRUE(ApplyPushAcks(*store_, {{Pending()[0].mutation_id, "conflict", 1, ""}}).ok());
  PulledConflict c{std::string(31, 'c') + "4", id, "S-Q", "open",
                   {{"path", "location"}, {"base", "Home"}, {"server", "Office"}, {"device", "School"}}};
  ASSERT_TRUE(ApplyPulledBatch(*store_, std::vector<Record>{}, {c}, {}, 3).ok());
  ASSERT_TRUE(ResolveConflict(*store_, c.conflict_id, "server", nullptr).ok());
  EXPECT_EQ(Raw("SELECT count(*) FROM versions WHERE action = 4 AND pdetail IS NOT NULL"), "1");
  std::vector<OutgoingMutation> m = Pending();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].kind, "resolve");
  EXPECT_EQ(m[0].resolve["conflict_id"], c.conflict_id);
  EXPECT_EQ(m[0].resolve["value"], "Office");
  // The detail is sealed to its mutation id: moved onto another row, it
  // does not open.
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE versions SET seq = seq + 100, mutation = mutation + 100 WHERE action = 4;"
                           "UPDATE records SET head = head + 100 WHERE head = (SELECT seq - 100 FROM versions "
                           "WHERE action = 4)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  store_ = OpenUnlocked();
  auto moved = PendingMutations(*store_, 10);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kDataLoss) << moved.status().ToString();
}

}  // namespace
}  // namespace doorstep::core
