// The WAL batching VFS (core/src/sqlite_wal_batch_vfs.cc): a commit's WAL
// frames reach the file in a few writes, and the database reads the same as
// without it — from the writer, from another connection on the default VFS
// (as the store's readers and checkpointer are), after a rolled-back
// transaction whose pages spilled into the WAL, and after reopening.
#include "doorstep/core/sqlite_wal_batch_vfs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <cstdlib>
#include <string>

#include "doorstep/core/sqlite.h"

namespace doorstep::core {
namespace {

std::string MakeTempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ds_walbatch_XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  return p ? std::string(p) : std::string();
}

std::unique_ptr<Database> OpenDb(const std::string& path, const char* vfs) {
  auto db = Database::Open(path, Database::Mode::kCreate, vfs);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  EXPECT_TRUE((*db)->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").ok());
  return std::move(db).value();
}

// Inserts rows [from, to) with 1.5 KB values, in one transaction.
void InsertRows(Database& db, int from, int to, bool commit) {
  ASSERT_TRUE(db.Exec("BEGIN IMMEDIATE").ok());
  auto st = Statement::Prepare(db, "INSERT INTO t(k, v) VALUES (?, ?)");
  ASSERT_TRUE(st.ok());
  for (int i = from; i < to; ++i) {
    st->Bind(1, "key-" + std::to_string(i * 7919 % 100003)).Bind(2, std::string(1500, 'a' + i % 26));
    Status s = st->Run();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Status end = db.Exec(commit ? "COMMIT" : "ROLLBACK");
  ASSERT_TRUE(end.ok()) << end.ToString();
}

int64_t Count(Database& db, const std::string& where = "1") {
  auto st = Statement::Prepare(db, "SELECT COUNT(*) FROM t WHERE " + where);
  EXPECT_TRUE(st.ok());
  auto row = st->Step();
  EXPECT_TRUE(row.ok() && *row);
  return st->ColumnInt(0);
}

std::string IntegrityCheck(Database& db) {
  auto st = Statement::Prepare(db, "PRAGMA integrity_check");
  EXPECT_TRUE(st.ok());
  auto row = st->Step();
  EXPECT_TRUE(row.ok() && *row);
  return st->ColumnText(0);
}

// A database in a temporary directory: `writer_` through the batching VFS
// (table t made), `reader_` another connection on the default VFS.
class SqliteWalBatchVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vfs = internal::WalBatchVfs();
    ASSERT_TRUE(vfs.ok()) << vfs.status().ToString();
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    const std::string path = dir_ + "/t.db";
    writer_ = OpenDb(path, *vfs);
    ASSERT_NE(writer_, nullptr);
    ASSERT_TRUE(writer_->Exec("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT NOT NULL)").ok());
    reader_ = OpenDb(path, nullptr);
    ASSERT_NE(reader_, nullptr);
  }
  void TearDown() override {
    reader_.reset();
    writer_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<Database> writer_, reader_;
};

TEST_F(SqliteWalBatchVfsTest, ACommitsFramesReachTheFileInAFewWrites) {
  uint64_t before = internal::WalBatchWrites();
  InsertRows(*writer_, 0, 1000, true);  // ~500 frames: ~1,000 writes without the VFS
  uint64_t writes = internal::WalBatchWrites() - before;
  EXPECT_GE(writes, 1u);
  EXPECT_LE(writes, 30u);
  EXPECT_EQ(Count(*writer_), 1000);
}

TEST_F(SqliteWalBatchVfsTest, OtherConnectionsAndReopeningReadTheSame) {
  // A tiny cache: the big transactions spill pages into the WAL before
  // their commit and read them back.
  ASSERT_TRUE(writer_->Exec("PRAGMA cache_size=20").ok());
  InsertRows(*writer_, 0, 2000, true);
  EXPECT_EQ(Count(*reader_), 2000);
  InsertRows(*writer_, 2000, 4000, false);  // spilled, then rolled back
  EXPECT_EQ(Count(*reader_), 2000);
  InsertRows(*writer_, 4000, 5000, true);
  EXPECT_EQ(Count(*reader_), 3000);
  EXPECT_EQ(Count(*writer_), 3000);
  // The other connection checkpoints (as the store's checkpointer does),
  // and the writer goes on (the WAL restarts from its beginning).
  ASSERT_TRUE(reader_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  InsertRows(*writer_, 5000, 5500, true);
  EXPECT_EQ(Count(*reader_), 3500);
  EXPECT_EQ(Count(*reader_, "length(v) != 1500"), 0);
  EXPECT_EQ(IntegrityCheck(*reader_), "ok");
  reader_.reset();
  writer_.reset();
  auto again = OpenDb(dir_ + "/t.db", nullptr);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Count(*again), 3500);
  EXPECT_EQ(IntegrityCheck(*again), "ok");
}

// With synchronous=NORMAL SQLite does not sync the WAL before publishing a
// commit (the device store records the last sync time so), so the frames must
// reach the file when the commit frame is written, not at the next sync: a
// connection on the default VFS reads them at once, and the process's own
// buffer holds nothing once a commit has returned.
TEST_F(SqliteWalBatchVfsTest, ACommitWithoutSyncIsWrittenOutBeforeItIsSeen) {
  ASSERT_TRUE(writer_->Exec("PRAGMA synchronous=NORMAL").ok());
  for (int round = 0; round < 20; ++round) {
    uint64_t before = internal::WalBatchWrites();
    InsertRows(*writer_, round * 3, round * 3 + 3, true);  // a few frames, no sync
    EXPECT_GE(internal::WalBatchWrites() - before, 1u) << "round " << round;
    EXPECT_LE(internal::WalBatchWrites() - before, 2u) << "round " << round;
    EXPECT_EQ(Count(*reader_), round * 3 + 3) << "round " << round;
    EXPECT_EQ(Count(*reader_, "length(v) != 1500"), 0) << "round " << round;
  }
  EXPECT_EQ(IntegrityCheck(*reader_), "ok");
}

}  // namespace
}  // namespace doorstep::core
