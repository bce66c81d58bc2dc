// End to end, against a real SyncServer on 127.0.0.1: a device's own applied
// changes are not pulled back (docs/sync.md, "No echo"). The push's answer
// lets the device record each revision itself; the session's pull leaves
// them out but moves the checkpoint past them. Checked: the device's record
// then equals the server's head in every envelope field, a lost answer
// (the store restored to before the sync) is answered again and recorded,
// another device's later edit still arrives, and a store whose base version
// predates this (written before it existed) falls back to the pull.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "e2e/e2e_util.h"
#include "e2e/live_server.h"

namespace doorstep {
namespace {

namespace fs = std::filesystem;
using core::Store;

class SyncEchoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    env_ = RealEnv();
    ASSERT_NO_FATAL_FAILURE(live_.Start(dir_.path(), env_));
    core_ = &live_.core();
    key_ = core::RandomKey(*env_.random);
  }
  void TearDown() override { live_.Stop(); }

  // A device whose store this test can close, copy and open again (its key
  // is key_), enrolled for `practitioner` as a social worker.
  std::unique_ptr<Store> KeptDevice(const std::string& name, const std::string& practitioner) {
    path_ = dir_.File(name + ".db");
    auto store = Store::Create(path_, core::KeySource{nullptr, &key_}, {}, env_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    auto code = core_->Enroll(practitioner, "social_worker");
    EXPECT_TRUE(code.ok());
    if (!code.ok()) return nullptr;
    Status s = sync::Enroll(**store, env_, live_.address(), live_.key_hex(), code->code);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<Store> Reopen() {
    auto store = Store::Open(path_, env_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    Status s = (*store)->Unlock(core::KeySource{nullptr, &key_});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(store).value() : nullptr;
  }
  // Copies the closed store's files (WAL mode: the -wal file too, if any).
  void CopyStore(const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      fs::remove(to + suffix, ec);
      if (fs::exists(from + suffix)) fs::copy_file(from + suffix, to + suffix);
    }
  }

  sync::SyncReport Sync(Store& s) {
    auto r = sync::RunSync(s, env_, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : sync::SyncReport{};
  }

  uint64_t ServerMaxSeq() {
    auto txn = live_.store().Begin(sync::TxnMode::kRead);
    EXPECT_TRUE(txn.ok());
    if (!txn.ok()) return 0;
    auto seq = (*txn)->MaxSeq();
    return seq.ok() ? *seq : 0;
  }

  // The device's record equals the server's head, envelope included.
  void ExpectSameAsServer(Store& s, const std::string& id, int64_t rev) {
    SCOPED_TRACE("record " + id);
    auto txn = live_.store().Begin(sync::TxnMode::kRead);
    ASSERT_TRUE(txn.ok());
    auto head = (*txn)->GetHead(id);
    ASSERT_TRUE(head.ok() && head->has_value());
    const sync::PulledRecord& h = (*head)->record;
    auto r = s.Get(id);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(h.rev, rev);
    EXPECT_EQ(r->rev, h.rev);
    EXPECT_EQ(r->fields, h.fields);
    EXPECT_EQ(r->status, h.status);
    EXPECT_EQ(r->flags, h.flags);
    EXPECT_EQ(r->amends, h.amends);
    EXPECT_EQ(r->deleted, h.deleted);
    EXPECT_EQ(r->subject_id, h.subject_id);
    EXPECT_EQ(r->author_id, h.author_id);
    EXPECT_EQ(r->device_id, h.device_id);
    EXPECT_EQ(r->schema_version, h.schema_version);
    EXPECT_EQ(r->hlc, h.hlc);
    EXPECT_EQ(r->created_at, h.created_at);
    EXPECT_EQ(r->updated_at, h.updated_at);
    EXPECT_EQ(r->server_received_at, h.server_received_at);
    EXPECT_NE(r->server_received_at, 0);
    EXPECT_EQ(r->base_rev, h.base_rev);
  }

  std::vector<std::string> AddNotes(Store& s, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto f = core::SampleFields("visit_note", env_.clock->NowMillis());
      f["location"] = "Place " + std::to_string(i);
      auto r = s.Add("visit_note", "subject-A", f, "draft");
      EXPECT_TRUE(r.ok() && r->saved());
      if (r.ok() && r->saved()) ids.push_back(r->record.id);
    }
    return ids;
  }
  void EditNotes(Store& s, const std::vector<std::string>& ids, const std::string& what) {
    for (const std::string& id : ids) {
      auto r = s.Edit(id, {{"location", what + " " + id.substr(0, 4)}}, std::nullopt);
      EXPECT_TRUE(r.ok() && r->saved());
    }
  }

  e2e::TempDir dir_;
  Env env_;
  e2e::LiveServer live_;
  sync::ServerCore* core_ = nullptr;  // live_'s
  SecretBytes key_;
  std::string path_;
};

TEST_F(SyncEchoTest, PushedChangesAreRecordedNotPulledBack) {
  constexpr int kRecords = 20;
  auto phone = KeptDevice("phone", "worker-1");
  auto laptop = live_.NewDevice(dir_.File("laptop.db"), "worker-2", "social_worker");
  ASSERT_TRUE(phone && laptop);
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  ASSERT_TRUE(core_->Assign("worker-2", "subject-A").ok());

  std::vector<std::string> ids = AddNotes(*phone, kRecords);
  sync::SyncReport first = Sync(*phone);
  EXPECT_EQ(first.pushed, kRecords);
  EXPECT_EQ(first.pulled, 0);  // before: kRecords (its own records came back)
  for (const std::string& id : ids) ExpectSameAsServer(*phone, id, 1);
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));

  // What pulling them costs another device, against what the pushing
  // device now receives for its next push of as many edits.
  sync::SyncReport laptop_pull = Sync(*laptop);
  EXPECT_EQ(laptop_pull.pulled, kRecords);
  EditNotes(*phone, ids, "Edited");
  sync::SyncReport edits = Sync(*phone);
  EXPECT_EQ(edits.pushed, kRecords);
  EXPECT_EQ(edits.pulled, 0);
  EXPECT_LT(edits.bytes_received, laptop_pull.bytes_received / 4);
  for (const std::string& id : ids) ExpectSameAsServer(*phone, id, 2);
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));

  // Another device's later edit of the same record still arrives, and the
  // device's next edit builds on it.
  EXPECT_EQ(Sync(*laptop).pulled, kRecords);
  ASSERT_TRUE(laptop->Edit(ids[0], {{"location", "Edited on the laptop"}}, std::nullopt)->saved());
  EXPECT_EQ(Sync(*laptop).pushed, 1);
  EXPECT_EQ(Sync(*phone).pulled, 1);
  ExpectSameAsServer(*phone, ids[0], 3);
  EditNotes(*phone, {ids[0]}, "Again");
  EXPECT_EQ(Sync(*phone).pulled, 0);
  ExpectSameAsServer(*phone, ids[0], 4);
  EXPECT_EQ(Sync(*laptop).pulled, 1);
  auto on_laptop = laptop->Get(ids[0]);
  ASSERT_TRUE(on_laptop.ok());
  EXPECT_EQ(on_laptop->fields, phone->Get(ids[0])->fields);
  auto audit = core_->VerifyAudit();
  EXPECT_TRUE(audit.ok()) << audit.status().ToString();
}

TEST_F(SyncEchoTest, TwoEditsOfOneRecordInOneSyncComeBackMerged) {
  auto phone = KeptDevice("phone", "worker-1");
  ASSERT_TRUE(phone);
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  std::vector<std::string> ids = AddNotes(*phone, 2);
  Sync(*phone);
  // The first edit of ids[0] is applied, the second merged (its base is the
  // same revision): the second's revision is not the device's record as the
  // server sees it, so it comes back by the pull, as before.
  EditNotes(*phone, ids, "One");
  EditNotes(*phone, {ids[0]}, "Two");
  sync::SyncReport r = Sync(*phone);
  EXPECT_EQ(r.pushed, 3);
  EXPECT_EQ(r.pulled, 1);
  ExpectSameAsServer(*phone, ids[0], 3);
  ExpectSameAsServer(*phone, ids[1], 2);
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));
}

// The revisions of an answer are recorded as it comes, while the server
// applies the later push messages (16 mutations, then 32, ...): a record
// changed again in a later message is recorded with that change on top, as
// a pull would have written it, and the later change's own answer (merged:
// its base is the first change's) comes back by the pull.
TEST_F(SyncEchoTest, ChangesOfOneRecordInTwoMessagesComeBackAsTheServerHasThem) {
  auto phone = KeptDevice("phone", "worker-1");
  ASSERT_TRUE(phone);
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  std::vector<std::string> ids = AddNotes(*phone, 32);
  Sync(*phone);
  EditNotes(*phone, {ids[0]}, "One");
  EditNotes(*phone, std::vector<std::string>(ids.begin() + 1, ids.end()), "Middle");
  EditNotes(*phone, {ids[0]}, "Two");  // the 33rd mutation: the second message
  sync::SyncReport r = Sync(*phone);
  EXPECT_EQ(r.pushed, 33);
  EXPECT_EQ(r.pulled, 1);
  ExpectSameAsServer(*phone, ids[0], 3);
  EXPECT_EQ(phone->Get(ids[0])->fields["location"], "Two " + ids[0].substr(0, 4));
  for (size_t i = 1; i < ids.size(); ++i) ExpectSameAsServer(*phone, ids[i], 2);
  EXPECT_EQ(phone->GetStatus()->pending, 0);
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));
  // The first answer's revision was recorded before the second message was
  // answered: in the history, rev 2 from the server, with "Two" (still
  // queued then) on top.
  auto history = phone->History(ids[0]);
  ASSERT_TRUE(history.ok());
  bool recorded = false;
  for (const core::HistoryEntry& h : *history) {
    if (h.origin == "server" && h.rev == 2) {
      recorded = true;
      EXPECT_EQ(h.fields["location"], "Two " + ids[0].substr(0, 4));
    }
  }
  EXPECT_TRUE(recorded) << "rev 2 of the twice-changed record was not recorded from its answer";
  EXPECT_EQ(Sync(*phone).pulled, 0);
}

TEST_F(SyncEchoTest, LostAnswerIsAnsweredAgainAndRecorded) {
  auto phone = KeptDevice("phone", "worker-1");
  ASSERT_TRUE(phone);
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  std::vector<std::string> ids = AddNotes(*phone, 3);
  Sync(*phone);
  EditNotes(*phone, ids, "Edited");
  // The sync whose answers the device never keeps: its store goes back to
  // how it was before (as if the answers were lost, or the store restored
  // from a copy). The server has applied the edits.
  phone.reset();
  CopyStore(path_, path_ + ".before");
  phone = Reopen();
  ASSERT_TRUE(phone);
  EXPECT_EQ(Sync(*phone).pushed, 3);
  phone.reset();
  CopyStore(path_ + ".before", path_);
  phone = Reopen();
  ASSERT_TRUE(phone);
  EXPECT_EQ(phone->GetStatus()->pending, 3);
  // The same mutation ids again: answered from the server's record of them
  // (applied, with the revision and its time), recorded, not pulled.
  sync::SyncReport again = Sync(*phone);
  EXPECT_EQ(again.pushed, 3);
  EXPECT_EQ(again.pulled, 0);
  EXPECT_EQ(phone->GetStatus()->pending, 0);
  for (const std::string& id : ids) ExpectSameAsServer(*phone, id, 2);  // no second revision
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));
}

TEST_F(SyncEchoTest, BaseVersionFromBeforeTheChangeFallsBackToThePull) {
  auto phone = KeptDevice("phone", "worker-1");
  ASSERT_TRUE(phone);
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  std::vector<std::string> ids = AddNotes(*phone, 2);
  Sync(*phone);
  // Make every server version look like one written before this change
  // (action 0, "pulled"): the device cannot tell it holds the server's
  // record exactly, so it records nothing and keeps its checkpoint.
  phone.reset();
  {
    auto db = core::Database::Open(path_, core::Database::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("UPDATE versions SET action=0 WHERE action=5").ok());
  }
  phone = Reopen();
  ASSERT_TRUE(phone);
  const int64_t before = *core::Checkpoint(*phone);
  EditNotes(*phone, ids, "Edited");
  sync::SyncReport r = Sync(*phone);
  EXPECT_EQ(r.pushed, 2);
  EXPECT_EQ(r.pulled, 0);  // the server left them out
  EXPECT_EQ(*core::Checkpoint(*phone), before);
  EXPECT_EQ(phone->Get(ids[0])->rev, 1);
  // The next session's pull leaves nothing out: they arrive.
  sync::SyncReport next = Sync(*phone);
  EXPECT_EQ(next.pulled, 2);
  for (const std::string& id : ids) ExpectSameAsServer(*phone, id, 2);
  EXPECT_EQ(*core::Checkpoint(*phone), static_cast<int64_t>(ServerMaxSeq()));
}

}  // namespace
}  // namespace doorstep
