// End to end: a real SyncServer on 127.0.0.1 (port 0), real device stores,
// the Noise transport over TCP, push/pull, merge, conflicts, resolution,
// purge and revocation.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "doorstep/core/crypto.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"
#include "e2e/e2e_util.h"
#include "e2e/live_server.h"

namespace doorstep {
namespace {

namespace fs = std::filesystem;
using core::Store;

class SyncE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    env_ = RealEnv();
    ASSERT_NO_FATAL_FAILURE(live_.Start(dir_.path(), env_));
    core_ = &live_.core();
    address_ = live_.address();
    server_key_hex_ = live_.key_hex();
  }
  void TearDown() override {
    live_.Stop();
  }

  // A device enrolled for `practitioner` with `role`.
  std::unique_ptr<Store> Device(const std::string& name, const std::string& practitioner, const std::string& role) {
    return live_.NewDevice(dir_.File(name + ".db"), practitioner, role);
  }

  sync::SyncReport Sync(Store& s) {
    auto r = sync::RunSync(s, env_, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : sync::SyncReport{};
  }

  e2e::TempDir dir_;
  Env env_;
  e2e::LiveServer live_;
  sync::ServerCore* core_ = nullptr;  // live_'s
  std::string address_, server_key_hex_;
};

TEST_F(SyncE2eTest, TwoDevicesConvergeAndNarrativeConflictIsResolved) {
  auto phone = Device("phone", "worker-1", "social_worker");
  auto laptop = Device("laptop", "manager-1", "manager");
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  ASSERT_TRUE(core_->Assign("manager-1", "subject-A").ok());

  auto fields = core::SampleFields("visit_note", env_.clock->NowMillis());
  fields["observations"] = "Line one.\nLine two.\nLine three.\n";
  auto added = phone->Add("visit_note", "subject-A", fields, "draft");
  ASSERT_TRUE(added.ok() && added->saved());
  std::string id = added->record.id;
  EXPECT_EQ(Sync(*phone).pushed, 1);
  EXPECT_EQ(Sync(*laptop).pulled, 1);
  ASSERT_TRUE(laptop->Get(id).ok());

  // Different fields and non-overlapping lines: merge with no conflict.
  ASSERT_TRUE(phone->Edit(id, {{"observations", "Line one, edited on the phone.\nLine two.\nLine three.\n"}}, std::nullopt)->saved());
  ASSERT_TRUE(laptop->Edit(id, {{"observations", "Line one.\nLine two.\nLine three, edited on the laptop.\n"},
                               {"location", "Family home"}}, std::nullopt)->saved());
  Sync(*phone);
  auto r = Sync(*laptop);
  EXPECT_EQ(r.conflicts, 0);
  Sync(*phone);
  auto p = phone->Get(id);
  auto l = laptop->Get(id);
  EXPECT_EQ(p->fields, l->fields);
  EXPECT_EQ(p->fields["observations"], "Line one, edited on the phone.\nLine two.\nLine three, edited on the laptop.\n");
  EXPECT_EQ(p->fields["location"], "Family home");

  // Overlapping edits: exactly one conflict, both wordings kept, on both devices.
  ASSERT_TRUE(phone->Edit(id, {{"observations", "Phone wording.\nLine two.\nLine three, edited on the laptop.\n"}}, std::nullopt)->saved());
  ASSERT_TRUE(laptop->Edit(id, {{"observations", "Laptop wording.\nLine two.\nLine three, edited on the laptop.\n"}}, std::nullopt)->saved());
  Sync(*phone);
  Sync(*laptop);
  Sync(*phone);
  auto pc = core::ListConflicts(*phone, true);
  auto lc = core::ListConflicts(*laptop, true);
  ASSERT_EQ(pc->size(), 1u);
  ASSERT_EQ(lc->size(), 1u);
  std::string both = (*lc)[0]["server"].dump() + (*lc)[0]["device"].dump();
  EXPECT_NE(both.find("Phone wording."), std::string::npos);
  EXPECT_NE(both.find("Laptop wording."), std::string::npos);

  // The manager resolves it; both converge and the conflict closes everywhere.
  std::string cid = (*lc)[0]["conflict_id"];
  ASSERT_TRUE(core::ResolveConflict(*laptop, cid, "value", "Agreed wording.\nLine two.\nLine three, edited on the laptop.\n").ok());
  Sync(*laptop);
  Sync(*phone);
  EXPECT_EQ(core::ListConflicts(*phone, true)->size(), 0u);
  EXPECT_EQ(core::ListConflicts(*laptop, true)->size(), 0u);
  EXPECT_EQ(phone->Get(id)->fields, laptop->Get(id)->fields);
  EXPECT_EQ(phone->Get(id)->fields["observations"], "Agreed wording.\nLine two.\nLine three, edited on the laptop.\n");
  EXPECT_EQ(core_->Conflicts(true)->size(), 0u);
  EXPECT_TRUE(core_->VerifyAudit().ok());
}

TEST_F(SyncE2eTest, NoOpSyncStillRecordsTheLastSyncTime) {
  auto phone = Device("phone", "worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  auto added = phone->Add("visit_note", "subject-A", core::SampleFields("visit_note", env_.clock->NowMillis()), "draft");
  ASSERT_TRUE(added.ok() && added->saved());
  EXPECT_EQ(Sync(*phone).pushed, 1);  // acks, pull and last-sync: one commit
  auto first = phone->GetStatus();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->pending, 0);
  EXPECT_GT(first->last_sync_at, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  sync::SyncReport noop = Sync(*phone);
  EXPECT_EQ(noop.pushed + noop.pulled, 0);
  auto second = phone->GetStatus();
  ASSERT_TRUE(second.ok());
  EXPECT_GT(second->last_sync_at, first->last_sync_at) << "status shows the no-op sync too";
  // Later writes and syncs work as before (the store is back to durable commits).
  ASSERT_TRUE(phone->Edit(added->record.id, {{"observations", "Edited after a no-op sync.\n"}}, std::nullopt)->saved());
  EXPECT_EQ(Sync(*phone).pushed, 1);
  EXPECT_EQ(phone->GetStatus()->pending, 0);
}

TEST_F(SyncE2eTest, OutOfScopeWritesAreRejectedAndKept) {
  auto pa = Device("tablet", "adviser-1", "personal_adviser");
  ASSERT_TRUE(core_->Assign("adviser-1", "subject-B").ok());
  auto pep = pa->Add("pep_update", "subject-B", core::SampleFields("pep_update", env_.clock->NowMillis()), "draft");
  ASSERT_TRUE(pep.ok() && pep->saved());
  auto visit = pa->Add("visit_note", "subject-C", core::SampleFields("visit_note", env_.clock->NowMillis()), "draft");
  ASSERT_TRUE(visit.ok() && visit->saved());
  auto r = Sync(*pa);
  EXPECT_EQ(r.rejected, 2);
  auto st = pa->GetStatus();
  EXPECT_EQ(st->rejected, 2);
  EXPECT_EQ(st->pending, 0);
  EXPECT_TRUE(pa->Get(pep->record.id).ok());  // still on the device
}

TEST_F(SyncE2eTest, UnassignPushesThenPurges) {
  auto phone = Device("phone", "worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  auto a = phone->Add("visit_note", "subject-A", core::SampleFields("visit_note", env_.clock->NowMillis()), "draft");
  Sync(*phone);
  auto e = phone->Edit(a->record.id, {{"location", "Contact centre"}}, std::nullopt);
  ASSERT_TRUE(e.ok() && e->saved());
  // The server accepts a write to an unassigned case only if its clock stamp
  // is strictly before the unassign (same millisecond counts as after, and
  // is refused and kept on the device). Unassign a moment after the edit.
  auto stamp = core::HlcStamp::Decode(e->record.hlc);
  ASSERT_TRUE(stamp.ok());
  while (env_.clock->NowMillis() <= stamp->physical_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(core_->Unassign("worker-1", "subject-A").ok());
  auto r = Sync(*phone);
  EXPECT_EQ(r.pushed, 1);  // the edit made while assigned reached the server
  EXPECT_EQ(r.purged, 1);
  EXPECT_EQ(phone->Get(a->record.id).status().code(), StatusCode::kNotFound);
}

TEST_F(SyncE2eTest, RevokedDeviceIsRefusedAndWiped) {
  auto phone = Device("phone", "worker-1", "social_worker");
  ASSERT_TRUE(core_->Revoke(phone->device_id()).ok());
  auto r = sync::RunSync(*phone, env_, {});
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(fs::exists(dir_.File("phone.db")));
}

TEST_F(SyncE2eTest, ReusedEnrolmentCodeIsRefused) {
  SecretBytes key = core::RandomKey(*env_.random);
  auto code = core_->Enroll("worker-2", "social_worker");
  auto a = Store::Create(dir_.File("a.db"), core::KeySource{nullptr, &key}, {}, env_);
  auto b = Store::Create(dir_.File("b.db"), core::KeySource{nullptr, &key}, {}, env_);
  ASSERT_TRUE(sync::Enroll(**a, env_, address_, server_key_hex_, code->code).ok());
  Status s = sync::Enroll(**b, env_, address_, server_key_hex_, code->code);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
}

// Pending changes larger than one push message's byte budget go in several
// messages (each under the cap), all accepted once, and the other device
// receives them all.
TEST_F(SyncE2eTest, LargePendingChangesAreSplitAcrossPushMessages) {
  auto phone = Device("phone", "worker-1", "social_worker");
  auto laptop = Device("laptop", "manager-1", "manager");
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  ASSERT_TRUE(core_->Assign("manager-1", "subject-A").ok());
  auto fields = core::SampleFields("visit_note", env_.clock->NowMillis());
  constexpr int kRecords = 40;
  for (int i = 0; i < kRecords; ++i) {
    // ~92 KB of narrative each (a field holds at most 100 000 bytes): 40 of
    // them exceed one push message's 3 MiB budget.
    fields["observations"] = std::string(92 * 1024, static_cast<char>('a' + i % 26)) + "\nEnd.";
    auto added = phone->Add("visit_note", "subject-A", fields, "draft");
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    ASSERT_TRUE(added->saved()) << added->problems[0].message;
  }
  auto pushed = Sync(*phone);
  EXPECT_EQ(pushed.pushed, kRecords);
  EXPECT_GE(pushed.round_trips, 4) << "hello, two or more push messages, pull";
  EXPECT_EQ(Sync(*laptop).pulled, kRecords);
  EXPECT_EQ(Sync(*phone).pushed, 0);
}

// A first sync asks for a small first batch and bigger ones after it (250,
// 500, ... up to SyncOptions::pull_batch): every record arrives once, and the
// batch sizes show in the round trips.
TEST_F(SyncE2eTest, FirstSyncRampsUpItsBatchSizes) {
  auto phone = Device("phone", "worker-1", "social_worker");
  auto tablet = Device("tablet", "worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "subject-A").ok());
  auto fields = core::SampleFields("visit_note", env_.clock->NowMillis());
  constexpr int kRecords = 600;
  ASSERT_TRUE(phone->BeginBatch().ok());
  for (int i = 0; i < kRecords; ++i) {
    auto added = phone->Add("visit_note", "subject-A", fields, "final");
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    ASSERT_TRUE(added->saved()) << added->problems[0].message;
  }
  ASSERT_TRUE(phone->CommitBatch().ok());
  EXPECT_EQ(Sync(*phone).pushed, kRecords);
  auto first = Sync(*tablet);
  EXPECT_EQ(first.pulled, kRecords);
  EXPECT_EQ(first.round_trips, 2) << "hello (batch of 250), pull (the other 350, within 500)";
  EXPECT_EQ(tablet->GetStatus()->pending, 0);
  // A smaller pull_batch caps every batch, the first one included.
  auto laptop = Device("laptop", "worker-1", "social_worker");
  sync::SyncOptions small;
  small.pull_batch = 100;
  auto r = sync::RunSync(*laptop, env_, small);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pulled, kRecords);
  EXPECT_EQ(r->round_trips, 6) << "hello and 5 pulls of 100";
  EXPECT_EQ(Sync(*laptop).pulled, 0);
}

}  // namespace
}  // namespace doorstep
