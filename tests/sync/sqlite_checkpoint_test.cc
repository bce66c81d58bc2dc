// The SQLite server store's background WAL checkpointer
// (sqlite_server_checkpoint.cc): commits past the checkpoint point wake its
// thread, which copies the WAL into the database so that the next writer
// restarts the WAL, without the committing connection checkpointing itself.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "server_fixture.h"
#include "sqlite_server_store_internal.h"

namespace doorstep::sync {
namespace {

// Frames in the WAL (and how many are copied) as a PASSIVE checkpoint sees them.
std::pair<int64_t, int64_t> WalFrames(core::Database& db) {
  auto st = core::Statement::Prepare(db, "PRAGMA wal_checkpoint(PASSIVE)");
  EXPECT_TRUE(st.ok());
  if (!st.ok()) return {-1, -1};
  auto row = st->Step();
  EXPECT_TRUE(row.ok() && *row);
  return {st->ColumnInt(1), st->ColumnInt(2)};
}

TEST(SqliteCheckpointTest, CommitsWakeTheCheckpointerAndTheWalRestarts) {
  std::string dir = testing::MakeTempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/t.db";
  {
    auto db = core::Database::Open(path, core::Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    // synchronous=NORMAL: the test is about the WAL's frames, not fsyncs.
    ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t(x BLOB NOT NULL)").ok());
    auto ck = internal::WalCheckpointer::Start(path, **db);
    ASSERT_TRUE(ck.ok()) << ck.status().ToString();
    auto insert = core::Statement::Prepare(**db, "INSERT INTO t(x) VALUES (?)");
    ASSERT_TRUE(insert.ok());
    // 1,000 commits of 5 frames each: without checkpoints the WAL would hold
    // 5,000 frames (the hook replaces SQLite's automatic checkpoint).
    const std::string blob(16 * 1024, 'x');
    constexpr int kCommits = 1000;
    for (int i = 0; i < kCommits; ++i) {
      insert->BindBlob(1, blob);
      ASSERT_TRUE(insert->Run().ok());
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the thread run
    }
    EXPECT_GE((*ck)->checkpoints(), 1u);
    auto [log, copied] = WalFrames(**db);
    (void)copied;
    EXPECT_LT(log, internal::WalCheckpointer::kBackgroundFrames + 2 * internal::WalCheckpointer::kFinishFrames)
        << "the WAL did not restart";
    ck->reset();  // before the writer closes
    auto count = core::Statement::Prepare(**db, "SELECT COUNT(*) FROM t");
    ASSERT_TRUE(count.ok());
    ASSERT_TRUE(*count->Step());
    EXPECT_EQ(count->ColumnInt(0), kCommits);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace doorstep::sync
