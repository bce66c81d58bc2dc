// core::BeginBatchUnsynced: a sync session's batch is committed without
// waiting for the disk; every other commit still syncs the WAL. Counted at
// the file system: the store's connection opens through the WAL batching
// VFS, which counts the sync calls it passes on (internal::WalBatchSyncs).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/sqlite_wal_batch_vfs.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

class StoreUnsyncedTest : public testing::StoreTestBase {
 protected:
  StoreUnsyncedTest() : StoreTestBase(/*seed=*/21) {}
  void SetUp() override {
    StoreTestBase::SetUp();
    if (HasFatalFailure()) return;
    StoreOptions o;
    o.kdf = KdfProfile::kInteractive;
    auto created = Store::Create(path_, KeySource{&pass_, nullptr}, o, env_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    store_ = std::move(*created);
  }
  void TearDown() override {
    store_.reset();
    StoreTestBase::TearDown();
  }
  // Adds one synthetic visit note inside the open batch.
  void AddNote() {
    auto w = store_->Add("visit_note", "S-UNSYNCED", SampleFields("visit_note", clock_.NowMillis()), "final");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE(w->saved()) << w->problems[0].message;
  }

  std::string pass_ = "unsynced passphrase";
  std::unique_ptr<Store> store_;
};

int64_t Synchronous(Store& store) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(store.impl()->db().raw(), "PRAGMA synchronous", -1, &st, nullptr), SQLITE_OK);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

TEST_F(StoreUnsyncedTest, UnsyncedBatchCommitWritesWithoutSyncingAndFullComesBack) {
  ASSERT_TRUE(BeginBatchUnsynced(*store_).ok());
  AddNote();
  const uint64_t before = internal::WalBatchSyncs();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_EQ(internal::WalBatchSyncs(), before) << "an unsynced commit must not sync any file";
  EXPECT_EQ(sqlite3_get_autocommit(store_->impl()->db().raw()), 1) << "the batch is committed";
  EXPECT_EQ(Synchronous(*store_), 2) << "FULL again after the unsynced batch";

  // The next ordinary commit syncs again (FULL is back), and with it the
  // WAL frames of the unsynced one before it.
  ASSERT_TRUE(store_->BeginBatch().ok());
  AddNote();
  const uint64_t mid = internal::WalBatchSyncs();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_GT(internal::WalBatchSyncs(), mid) << "a durable commit syncs the WAL";

  auto list = store_->List({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(StoreUnsyncedTest, UnsyncedBatchCannotNestAndLeavesFullWhenRefused) {
  ASSERT_TRUE(store_->BeginBatch().ok());
  Status s = BeginBatchUnsynced(*store_);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  AddNote();
  const uint64_t before = internal::WalBatchSyncs();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_GT(internal::WalBatchSyncs(), before) << "the ordinary batch it was refused inside stays durable";
  EXPECT_EQ(Synchronous(*store_), 2);
}

TEST_F(StoreUnsyncedTest, UnsyncedCommitSurvivesReopen) {
  ASSERT_TRUE(BeginBatchUnsynced(*store_).ok());
  AddNote();
  ASSERT_TRUE(store_->CommitBatch().ok());
  store_.reset();
  auto opened = Store::Open(dir_ + "/device.db", env_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_TRUE((*opened)->Unlock(KeySource{&pass_, nullptr}).ok());
  auto list = (*opened)->List({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 1u);
}

}  // namespace
}  // namespace doorstep::core
