// The device's side of "No echo" (docs/sync.md): ApplyPushAcks hands back
// the revisions the server says are exactly the pushed records, and
// RecordPushedRevisions writes them as the pull would have — only on a base
// version known to be the server's own record.
#include <gtest/gtest.h>
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

namespace fs = std::filesystem;

class StorePushTest : public testing::StoreTestBase {
 protected:
  StorePushTest() : StoreTestBase(/*seed=*/11) {}
  void SetUp() override {
    StoreTestBase::SetUp();
    if (HasFatalFailure()) return;
    StoreOptions o;
    o.kdf = KdfProfile::kInteractive;
    auto s = Store::Create(path_, KeySource{&pass_, nullptr}, o, env_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    StoreTestBase::TearDown();
  }

  // The pending mutation ids, oldest first.
  std::vector<std::string> Pending() {
    std::vector<std::string> ids;
    auto p = PendingMutations(*store_, 100);
    EXPECT_TRUE(p.ok());
    if (p.ok()) for (const auto& m : *p) ids.push_back(m.mutation_id);
    return ids;
  }
  // Acks `mutation_id` as applied at `rev` (answered with `sr` when not 0)
  // and records what it hands back; returns how many were not recorded.
  // Acks `mutation_id` as applied at `rev` (with `sr` when not 0): what
  // ApplyPushAcks hands back, each for `record_id` (the caller's part).
  std::vector<PushedRevision> AckApplied(const std::string& mutation_id, const std::string& record_id, int64_t rev,
                                         int64_t sr) {
    MutationAck a;
    a.mutation_id = mutation_id;
    a.outcome = "applied";
    a.rev = rev;
    a.server_received_at = sr;
    std::vector<PushedRevision> handed;
    EXPECT_TRUE(ApplyPushAcks(*store_, {a}, &handed).ok());
    for (PushedRevision& p : handed) p.record_id = record_id;
    return handed;
  }
  int64_t AckAndRecord(const std::string& mutation_id, const std::string& record_id, int64_t rev, int64_t sr,
                       size_t expect_handed = 1) {
    std::vector<PushedRevision> handed = AckApplied(mutation_id, record_id, rev, sr);
    EXPECT_EQ(handed.size(), expect_handed);
    auto missed = RecordPushedRevisions(*store_, handed);
    EXPECT_TRUE(missed.ok()) << missed.status().ToString();
    return missed.ok() ? *missed : -1;
  }

  std::string pass_ = "correct horse battery";
  std::unique_ptr<Store> store_;
};

TEST_F(StorePushTest, AnsweredRevisionIsRecordedAndTheNextEditBuildsOnIt) {
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto a = store_->Add("visit_note", "subject-1", fields, "draft");
  ASSERT_TRUE(a.ok() && a->saved());
  const std::string id = a->record.id;
  EXPECT_EQ(AckAndRecord(Pending()[0], id, 1, 1'764'000'000'500), 0);
  auto got = store_->Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rev, 1);
  EXPECT_EQ(got->server_received_at, 1'764'000'000'500);
  EXPECT_EQ(got->fields, fields);
  EXPECT_EQ(got->hlc, a->record.hlc);
  EXPECT_EQ(store_->History(id)->back().origin, "server");
  EXPECT_EQ(store_->GetStatus()->pending, 0);

  ASSERT_TRUE(store_->Edit(id, {{"location", "School"}}, std::nullopt)->saved());
  auto p = PendingMutations(*store_, 10);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].base_rev, 1);
  EXPECT_EQ(AckAndRecord((*p)[0].mutation_id, id, 2, 1'764'000'000'900), 0);
  EXPECT_EQ(store_->Get(id)->rev, 2);
  EXPECT_EQ(store_->Get(id)->fields["location"], "School");
  // An answer without the server's word hands nothing back.
  ASSERT_TRUE(store_->Edit(id, {{"location", "Library"}}, std::nullopt)->saved());
  EXPECT_EQ(AckAndRecord(Pending()[0], id, 3, 0, 0), 0);
  EXPECT_EQ(store_->Get(id)->rev, 2);
}

TEST_F(StorePushTest, LaterLocalEditStaysOnTopAndIsNotABase) {
  auto a = store_->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  const std::string id = a->record.id;
  ASSERT_TRUE(store_->Edit(id, {{"location", "School"}}, std::nullopt)->saved());
  std::vector<std::string> ids = Pending();
  ASSERT_EQ(ids.size(), 2u);
  // The add's revision is recorded with the unpushed edit on top, as a pull
  // of it would have.
  EXPECT_EQ(AckAndRecord(ids[0], id, 1, 1'764'000'000'500), 0);
  EXPECT_EQ(store_->Get(id)->rev, 1);
  EXPECT_EQ(store_->Get(id)->fields["location"], "School");
  EXPECT_EQ(store_->GetStatus()->pending, 1);
  // The edit was made on the local add, not on a server version: even if
  // the server said so, its record cannot be known to be the server's.
  EXPECT_EQ(AckAndRecord(ids[1], id, 2, 1'764'000'000'900), 1);
  EXPECT_EQ(store_->Get(id)->rev, 1);
}

TEST_F(StorePushTest, PulledVersionWithLocalChangesOnTopIsNotABase) {
  auto a = store_->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  Record server = a->record;
  EXPECT_EQ(AckAndRecord(Pending()[0], server.id, 1, 1'764'000'000'500), 0);
  // A local edit, then the server's newer revision pulled under it...
  ASSERT_TRUE(store_->Edit(server.id, {{"location", "School"}}, std::nullopt)->saved());
  server.rev = 2;
  server.fields["purpose"] = "Statutory visit, updated by a colleague.";
  ASSERT_TRUE(ApplyPulledBatch(*store_, {server}, {}, {}, 7).ok());
  std::vector<std::string> ids = Pending();
  ASSERT_EQ(ids.size(), 1u);
  MutationAck merged;
  merged.mutation_id = ids[0];
  merged.outcome = "merged";
  merged.rev = 3;
  ASSERT_TRUE(ApplyPushAcks(*store_, {merged}).ok());
  // ...so an edit made on that version (rev 2) starts from one that is not
  // the server's record (it held the local edit too): even an answer of
  // rev 3 with the server's word is not recorded.
  ASSERT_TRUE(store_->Edit(server.id, {{"location", "Library"}}, std::nullopt)->saved());
  EXPECT_EQ(AckAndRecord(Pending()[0], server.id, 3, 1'764'000'000'900), 1);
  EXPECT_EQ(store_->Get(server.id)->rev, 2);
}


// The session hands RecordPushedRevisions the record the push read
// (PushedRevision::record) so the version is not opened again; it is used
// only when it is that version's row, record and type.
TEST_F(StorePushTest, HandedRecordIsUsedOnlyForItsOwnVersion) {
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto a = store_->Add("visit_note", "subject-1", fields, "draft");
  ASSERT_TRUE(a.ok() && a->saved());
  const std::string id = a->record.id;
  auto pending = PendingMutations(*store_, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  const OutgoingMutation& m = (*pending)[0];
  EXPECT_GT(m.version, 0);

  std::vector<PushedRevision> handed = AckApplied(m.mutation_id, id, 1, 1'764'000'000'500);
  ASSERT_EQ(handed.size(), 1u);
  // A record that claims another row: not used (the stored fields are the
  // version's own, not the marker's).
  Record wrong = m.record;
  wrong.fields["location"] = "not this version";
  handed[0].record = std::make_shared<const Record>(wrong);
  handed[0].record_version = m.version + 1;
  auto missed = RecordPushedRevisions(*store_, handed);
  ASSERT_TRUE(missed.ok()) << missed.status().ToString();
  EXPECT_EQ(*missed, 0);
  auto got = store_->Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rev, 1);
  EXPECT_EQ(got->fields, fields);
  EXPECT_EQ(got->server_received_at, 1'764'000'000'500);
}

TEST_F(StorePushTest, HandedRecordOfTheRowIsRecordedAsTheRevision) {
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto a = store_->Add("visit_note", "subject-1", fields, "final");
  ASSERT_TRUE(a.ok() && a->saved());
  auto pending = PendingMutations(*store_, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  OutgoingMutation& m = (*pending)[0];
  std::vector<PushedRevision> handed = AckApplied(m.mutation_id, a->record.id, 1, 1'764'000'000'700);
  ASSERT_EQ(handed.size(), 1u);
  handed[0].record = std::make_shared<const Record>(std::move(m.record));
  handed[0].record_version = m.version;
  auto missed = RecordPushedRevisions(*store_, handed);
  ASSERT_TRUE(missed.ok()) << missed.status().ToString();
  EXPECT_EQ(*missed, 0);
  auto got = store_->Get(a->record.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rev, 1);
  EXPECT_EQ(got->status, "final");
  EXPECT_EQ(got->fields, fields);
  EXPECT_EQ(got->hlc, a->record.hlc);
  EXPECT_EQ(got->server_received_at, 1'764'000'000'700);
  EXPECT_EQ(store_->History(a->record.id)->back().origin, "server");
}

}  // namespace
}  // namespace doorstep::core
