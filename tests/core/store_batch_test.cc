// Record writes inside a store batch (docs/store.md, session 9): a write opens
// no savepoint, so one that fails after writing some of its rows takes them
// back itself; the batch then holds every row of each write that succeeded
// and none of the one that failed, and goes on. If taking them back fails
// too, the whole batch is rolled back. Failures are injected with triggers
// that abort one insert.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/core/store.h"

namespace doorstep::core {
namespace {

class StoreBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    key_.emplace(SecretBytes::Copy(std::string(32, '\x42').data(), 32));
    char tmpl[] = "/tmp/doorstep-batch-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/device.db";
    env_ = Env{&clock_, &random_, &logger_};
    StoreOptions options;
    ASSERT_TRUE(Store::Create(path_, KeySource{nullptr, &*key_}, options, env_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `sql` on the store's file through a connection of its own.
  void Sql(const std::string& sql) {
    auto db = Database::Open(path_, Database::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    Status s = (*db)->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  int64_t Count(const std::string& sql) {
    auto db = Database::Open(path_, Database::Mode::kReadWrite);
    EXPECT_TRUE(db.ok());
    auto st = Statement::Prepare(**db, sql);
    EXPECT_TRUE(st.ok()) << sql;
    auto row = st->Step();
    EXPECT_TRUE(row.ok() && *row);
    return st->ColumnInt(0);
  }
  // Every table agrees: no version without its record, no record whose head
  // is missing, one pending row per local version.
  void ExpectConsistent(int64_t records) {
    EXPECT_EQ(Count("SELECT count(*) FROM records"), records);
    EXPECT_EQ(Count("SELECT count(*) FROM versions WHERE record NOT IN (SELECT id FROM records)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM records WHERE head NOT IN (SELECT seq FROM versions)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM records r JOIN versions v ON v.seq = r.head "
                    "WHERE v.local_version <> r.local_version OR v.record <> r.id"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM pending WHERE version NOT IN (SELECT seq FROM versions)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM versions WHERE mutation NOT IN (SELECT seq FROM pending)"), 0);
    auto db = Database::Open(path_, Database::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    auto st = Statement::Prepare(**db, "PRAGMA integrity_check");
    ASSERT_TRUE(st.ok());
    auto row = st->Step();
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ(st->ColumnText(0), "ok");
  }

  std::unique_ptr<Store> OpenUnlocked() {
    auto s = Store::Open(path_, env_);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE((*s)->Unlock(KeySource{nullptr, &*key_}).ok());
    return std::move(*s);
  }

  static Result<WriteOutcome> AddOne(Store& s) {
    return s.Add("visit_note", "S-BATCH", SampleFields("visit_note", 1'764'000'000'000), "final");
  }

  std::string dir_, path_;
  std::optional<SecretBytes> key_;
  FakeClock clock_{1'764'000'000'000};
  SeededRandom random_{9};
  NullLogger logger_;
  Env env_;
};

TEST_F(StoreBatchTest, AnAddFailingAtItsPendingRowLeavesNothingAndTheBatchGoesOn) {
  // The third write's pending row fails: its version and records rows are
  // already written by then.
  Sql("CREATE TRIGGER fail BEFORE INSERT ON pending WHEN NEW.seq = 3 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  std::vector<std::string> saved;
  for (int i = 0; i < 4; ++i) {
    auto w = AddOne(*s);
    if (i == 2) {
      EXPECT_FALSE(w.ok());
      continue;
    }
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    saved.push_back(w->record.id);
  }
  ASSERT_TRUE(s->CommitBatch().ok());
  auto listed = s->List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  for (const std::string& id : saved) EXPECT_TRUE(s->Get(id).ok()) << id;
  auto status = s->GetStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->pending, 3);
  s.reset();
  ExpectConsistent(3);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action='add'"), 3);
}

TEST_F(StoreBatchTest, AnAddFailingAtItsRecordsRowLeavesNoVersion) {
  // The write of mutation 2 fails at its records row, after its version row.
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN (SELECT max(mutation) FROM versions) = 2 "
      "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  ASSERT_TRUE(AddOne(*s).ok());
  EXPECT_FALSE(AddOne(*s).ok());
  ASSERT_TRUE(AddOne(*s).ok());
  ASSERT_TRUE(s->CommitBatch().ok());
  s.reset();
  ExpectConsistent(2);
  EXPECT_EQ(Count("SELECT count(*) FROM versions"), 2);
}

TEST_F(StoreBatchTest, AnEditFailingAfterItsRecordsRowPutsTheRowBack) {
  std::unique_ptr<Store> s = OpenUnlocked();
  auto a = AddOne(*s);  // pending seq 1, outside a batch
  ASSERT_TRUE(a.ok());
  const std::string id = a->record.id;
  s.reset();
  // The edit's pending row (seq 2) fails after its version and the update of
  // the records row (local version, rev, clock, subject, head).
  Sql("CREATE TRIGGER fail BEFORE INSERT ON pending WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  const int64_t hlc_before = Count("SELECT hlc_key FROM records");
  s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  clock_.AdvanceMillis(1000);
  EXPECT_FALSE(s->Edit(id, {{"location", "Family home (changed)"}}, std::nullopt).ok());
  auto r = s->Get(id);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->local_version, 1);
  EXPECT_EQ(r->fields, a->record.fields);
  auto h = s->History(id);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 1u);
  // The next edit (seq 3) goes through, from version 1.
  auto e = s->Edit(id, {{"location", "Family home (changed again)"}}, std::nullopt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->record.local_version, 2);
  ASSERT_TRUE(s->CommitBatch().ok());
  h = s->History(id);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 2u);
  s.reset();
  ExpectConsistent(1);
  EXPECT_EQ(Count("SELECT count(*) FROM versions"), 2);
  EXPECT_GT(Count("SELECT hlc_key FROM records"), hlc_before);
}

TEST_F(StoreBatchTest, AnEditRefusedWhileTheRowIsRestoredKeepsItsClock) {
  std::unique_ptr<Store> s = OpenUnlocked();
  auto a = AddOne(*s);
  ASSERT_TRUE(a.ok());
  const std::string id = a->record.id;
  s.reset();
  Sql("CREATE TRIGGER fail BEFORE INSERT ON pending WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  const int64_t hlc_before = Count("SELECT hlc_key FROM records");
  const int64_t head_before = Count("SELECT head FROM records");
  s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  clock_.AdvanceMillis(1000);
  EXPECT_FALSE(s->Edit(id, {{"location", "Family home (changed)"}}, std::nullopt).ok());
  ASSERT_TRUE(s->CommitBatch().ok());
  s.reset();
  EXPECT_EQ(Count("SELECT hlc_key FROM records"), hlc_before);
  EXPECT_EQ(Count("SELECT head FROM records"), head_before);
  EXPECT_EQ(Count("SELECT local_version FROM records"), 1);
  ExpectConsistent(1);
}

TEST_F(StoreBatchTest, IfTheFailedWriteCannotBeTakenBackTheWholeBatchIsRolledBack) {
  Sql("CREATE TRIGGER fail BEFORE INSERT ON pending WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
      "CREATE TRIGGER keep BEFORE DELETE ON versions BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  ASSERT_TRUE(AddOne(*s).ok());
  EXPECT_FALSE(AddOne(*s).ok());
  // Not a part of the batch: none of it.
  EXPECT_FALSE(s->CommitBatch().ok());
  auto listed = s->List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 0u);
  // The store goes on.
  ASSERT_TRUE(AddOne(*s).ok());
  s.reset();
  ExpectConsistent(1);
}

TEST_F(StoreBatchTest, OutsideABatchAFailedAddLeavesNothing) {
  Sql("CREATE TRIGGER fail BEFORE INSERT ON pending WHEN NEW.seq = 1 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  EXPECT_FALSE(AddOne(*s).ok());
  ASSERT_TRUE(AddOne(*s).ok());
  s.reset();
  ExpectConsistent(1);
}

}  // namespace
}  // namespace doorstep::core
