// core::BeginBatchUnsynced: a sync session's batch is committed without
// waiting for the disk; every other commit still syncs the WAL. Counted at
// the file system: a VFS that forwards to SQLite's default one and counts
// xSync calls is made the default while each test runs.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

std::atomic<int> g_syncs{0};
sqlite3_vfs* g_real = nullptr;

// A file of the counting VFS: the real file follows this header in the same
// allocation (szOsFile is the real one's plus the header).
struct CountingFile {
  sqlite3_file base;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<CountingFile*>(f)->real(); }

const sqlite3_io_methods kCountingMethods = {
    3,
    [](sqlite3_file* f) {
      sqlite3_file* r = Real(f);
      return r->pMethods != nullptr ? r->pMethods->xClose(r) : SQLITE_OK;
    },
    [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return Real(f)->pMethods->xRead(Real(f), b, n, o); },
    [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      return Real(f)->pMethods->xWrite(Real(f), b, n, o);
    },
    [](sqlite3_file* f, sqlite3_int64 n) { return Real(f)->pMethods->xTruncate(Real(f), n); },
    [](sqlite3_file* f, int flags) {
      g_syncs.fetch_add(1);
      return Real(f)->pMethods->xSync(Real(f), flags);
    },
    [](sqlite3_file* f, sqlite3_int64* n) { return Real(f)->pMethods->xFileSize(Real(f), n); },
    [](sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); },
    [](sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); },
    [](sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); },
    [](sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); },
    [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); },
    [](sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); },
    [](sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
      return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, p);
    },
    [](sqlite3_file* f, int off, int n, int flags) { return Real(f)->pMethods->xShmLock(Real(f), off, n, flags); },
    [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); },
    [](sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); },
    [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return Real(f)->pMethods->xFetch(Real(f), o, n, p); },
    [](sqlite3_file* f, sqlite3_int64 o, void* p) { return Real(f)->pMethods->xUnfetch(Real(f), o, p); },
};

int CountingOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* cf = reinterpret_cast<CountingFile*>(f);
  cf->base.pMethods = nullptr;
  int rc = g_real->xOpen(g_real, name, cf->real(), flags, out_flags);
  if (cf->real()->pMethods != nullptr) cf->base.pMethods = &kCountingMethods;
  return rc;
}

class CountingVfs {
 public:
  CountingVfs() {
    g_real = sqlite3_vfs_find(nullptr);
    vfs_ = *g_real;
    vfs_.szOsFile = static_cast<int>(sizeof(CountingFile)) + g_real->szOsFile;
    vfs_.zName = "doorstep-test-counting";
    vfs_.xOpen = CountingOpen;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/1);
  }
  ~CountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(g_real, 1);
  }

 private:
  sqlite3_vfs vfs_;
};

class StoreUnsyncedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    char tmpl[] = "/tmp/doorstep-unsynced-XXXXXX";
    dir_ = mkdtemp(tmpl);
    StoreOptions o;
    o.kdf = KdfProfile::kInteractive;
    auto created = Store::Create(dir_ + "/device.db", KeySource{&pass_, nullptr}, o, env_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    store_ = std::move(*created);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Adds one synthetic visit note inside the open batch.
  void AddNote() {
    auto w = store_->Add("visit_note", "S-UNSYNCED", SampleFields("visit_note", clock_.NowMillis()), "final");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE(w->saved()) << w->problems[0].message;
  }

  CountingVfs counting_;
  FakeClock clock_{1'764'000'000'000};
  SeededRandom random_{21};
  NullLogger logger_;
  Env env_{&clock_, &random_, &logger_};
  std::string pass_ = "unsynced passphrase";
  std::string dir_;
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
  const int before = g_syncs.load();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_EQ(g_syncs.load(), before) << "an unsynced commit must not sync any file";
  EXPECT_EQ(sqlite3_get_autocommit(store_->impl()->db().raw()), 1) << "the batch is committed";
  EXPECT_EQ(Synchronous(*store_), 2) << "FULL again after the unsynced batch";

  // The next ordinary commit syncs again (FULL is back), and with it the
  // WAL frames of the unsynced one before it.
  ASSERT_TRUE(store_->BeginBatch().ok());
  AddNote();
  const int mid = g_syncs.load();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_GT(g_syncs.load(), mid) << "a durable commit syncs the WAL";

  auto list = store_->List({});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(StoreUnsyncedTest, UnsyncedBatchCannotNestAndLeavesFullWhenRefused) {
  ASSERT_TRUE(store_->BeginBatch().ok());
  Status s = BeginBatchUnsynced(*store_);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  AddNote();
  const int before = g_syncs.load();
  ASSERT_TRUE(store_->CommitBatch().ok());
  EXPECT_GT(g_syncs.load(), before) << "the ordinary batch it was refused inside stays durable";
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
