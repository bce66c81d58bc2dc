// Record writes inside a store batch (docs/store.md, session 9), and
// Store::AddMany (session 10). Inside a batch a write opens
// no savepoint, so one that fails after writing some of its rows takes them
// back itself; the batch then holds every row of each write that succeeded
// and none of the one that failed, and goes on. If taking them back fails
// too, the whole batch is rolled back. Failures are injected with triggers
// that abort one insert.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "doorstep/core/samples.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"

namespace doorstep::core {
namespace {

class StoreBatchTest : public testing::StoreTestBase {
 protected:
  StoreBatchTest() : StoreTestBase(/*seed=*/9) {}
  void SetUp() override {
    StoreTestBase::SetUp();
    if (HasFatalFailure()) return;
    StoreOptions options;
    ASSERT_TRUE(Store::Create(path_, Key(), options, env_).ok());
  }

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
  void ExpectAddManyWritesWhatAddsWrite(Clock& many_clock, const std::function<void()>& before);
  // Every table agrees: no version without its record, no record whose head
  // is missing, every local version queued in its own row (nothing here is
  // pushed), no pending row (store format 4: local writes write none).
  void ExpectConsistent(int64_t records) {
    EXPECT_EQ(Count("SELECT count(*) FROM records"), records);
    EXPECT_EQ(Count("SELECT count(*) FROM versions WHERE record NOT IN (SELECT id FROM records)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM records WHERE head NOT IN (SELECT seq FROM versions)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM records r JOIN versions v ON v.seq = r.head "
                    "WHERE v.local_version <> r.local_version OR v.record <> r.id"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM versions WHERE mutation <> seq OR session IS NULL"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM pending"), 0);
    auto db = Database::Open(path_, Database::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    auto st = Statement::Prepare(**db, "PRAGMA integrity_check");
    ASSERT_TRUE(st.ok());
    auto row = st->Step();
    ASSERT_TRUE(row.ok() && *row);
    EXPECT_EQ(st->ColumnText(0), "ok");
  }

  static Result<WriteOutcome> AddOne(Store& s) {
    return s.Add("visit_note", "S-BATCH", SampleFields("visit_note", 1'764'000'000'000), "final");
  }
};

TEST_F(StoreBatchTest, AnAddFailingAtItsRecordsRowLeavesNothingAndTheBatchGoesOn) {
  // The third write fails at its records row (its last statement): its
  // version row, which is also its queued mutation, is written by then.
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.head = 3 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
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
  auto pending = PendingMutations(*s, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*pending)[i].record.id, saved[i]);
  s.reset();
  ExpectConsistent(3);
  EXPECT_EQ(Count("SELECT count(*) FROM versions"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action='add'"), 3);
}

TEST_F(StoreBatchTest, AnEditFailingAtItsRecordsRowLeavesTheRecordAsItWas) {
  std::unique_ptr<Store> s = OpenUnlocked();
  auto a = AddOne(*s);  // version (and mutation) 1, outside a batch
  ASSERT_TRUE(a.ok());
  const std::string id = a->record.id;
  s.reset();
  // The edit (version 2) fails at the update of the records row, after its
  // version row.
  Sql("CREATE TRIGGER fail BEFORE UPDATE ON records WHEN NEW.head = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
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
  // The next edit (version 3) goes through, from version 1.
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

TEST_F(StoreBatchTest, AnEditFailingAtItsRecordsRowKeepsTheRowsClock) {
  std::unique_ptr<Store> s = OpenUnlocked();
  auto a = AddOne(*s);
  ASSERT_TRUE(a.ok());
  const std::string id = a->record.id;
  s.reset();
  Sql("CREATE TRIGGER fail AFTER UPDATE ON records WHEN NEW.head = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
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
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.head = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
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
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.head = 1 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  EXPECT_FALSE(AddOne(*s).ok());
  ASSERT_TRUE(AddOne(*s).ok());
  s.reset();
  ExpectConsistent(1);
}


// --- AddMany: as many Adds, in one transaction, prepared on a second thread ---

// A visit note (record i of a call) and, at the positions in `refused`, one
// that validation refuses (a visit that ends before it starts).
std::vector<NewRecord> Notes(size_t n, const std::vector<size_t>& refused = {}) {
  std::vector<NewRecord> out;
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json f = SampleFields("visit_note", 1'764'000'000'000);
    f["location"] = "Family home " + std::to_string(i);
    if (std::find(refused.begin(), refused.end(), i) != refused.end()) f["visit_end"] = "2020-01-01T00:00:00Z";
    out.push_back(NewRecord{"visit_note", i % 3 == 0 ? "S-ONE" : "S-TWO", std::move(f), i % 2 ? "final" : "draft"});
  }
  return out;
}

// Every clear column and sealed byte the record writes left in a store file.
std::vector<std::string> Rows(const std::string& path) {
  std::vector<std::string> rows;
  auto db = Database::Open(path, Database::Mode::kReadWrite);
  EXPECT_TRUE(db.ok());
  for (const char* sql :
       {"SELECT quote(id)||'|'||type||'|'||subject_id||'|'||local_version||'|'||rev||'|'||hlc_key||'|'||head "
        "FROM records ORDER BY id",
        "SELECT seq||'|'||quote(record)||'|'||local_version||'|'||prev||'|'||mutation||'|'||action||'|'||at_ms||'|'||"
        "quote(body)||'|'||quote(session)||'|'||quote(pdetail) FROM versions ORDER BY seq",
        "SELECT seq||'|'||version||'|'||quote(session)||'|'||state||'|'||quote(detail) FROM pending ORDER BY seq"}) {
    auto st = Statement::Prepare(**db, sql);
    EXPECT_TRUE(st.ok()) << sql;
    while (true) {
      auto row = st->Step();
      EXPECT_TRUE(row.ok());
      if (!row.ok() || !*row) break;
      rows.push_back(st->ColumnText(0));
    }
  }
  return rows;
}

// A FakeClock for one side of AddMany: readings from the calling thread
// (`slow_caller`) or from any other thread take 300 µs longer, and it counts
// each side's readings. AddMany reads the clock only when it stamps a
// record (StampNew), so the counts say which thread prepared what, and the
// slow side prepares fewer.
class SkewedClock : public Clock {
 public:
  SkewedClock(int64_t start_ms, bool slow_caller)
      : inner_(start_ms), slow_caller_(slow_caller), caller_(std::this_thread::get_id()) {}
  int64_t NowMillis() override {
    const bool caller = std::this_thread::get_id() == caller_;
    ++(caller ? by_caller_ : by_others_);
    if (caller == slow_caller_) std::this_thread::sleep_for(std::chrono::microseconds(300));
    return inner_.NowMillis();
  }
  int64_t MonotonicMicros() override { return inner_.MonotonicMicros(); }
  void ResetCounts() { by_caller_ = by_others_ = 0; }
  int by_caller() const { return by_caller_; }
  int by_others() const { return by_others_; }

 private:
  FakeClock inner_;
  const bool slow_caller_;
  const std::thread::id caller_;
  std::atomic<int> by_caller_{0}, by_others_{0};
};

// Two stores made from the same seeds (same data key, id stream, nonces
// and clock time): one gets 600 Adds, the other one AddMany of the same
// records (more than the pipeline's window of sealed records), two of them
// refused; the AddMany store reads `many_clock`. The outcomes and the
// files' rows, sealed bodies included, are the same byte for byte.
void StoreBatchTest::ExpectAddManyWritesWhatAddsWrite(Clock& many_clock, const std::function<void()>& before) {
  const std::vector<size_t> refused = {5, 400};
  FakeClock clock1{1'764'000'000'000};
  SeededRandom random1{9}, random2{9};
  Env env1{&clock1, &random1, &logger_}, env2{&many_clock, &random2, &logger_};
  const std::string path1 = dir_ + "/one.db", path2 = dir_ + "/many.db";
  auto open = [this](const std::string& path, Env& env) -> std::unique_ptr<Store> {
    EXPECT_TRUE(Store::Create(path, KeySource{nullptr, &*key_}, StoreOptions{}, env).ok());
    auto s = Store::Open(path, env);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE((*s)->Unlock(KeySource{nullptr, &*key_}).ok());
    return std::move(*s);
  };
  std::unique_ptr<Store> one = open(path1, env1);
  std::unique_ptr<Store> many = open(path2, env2);
  ASSERT_TRUE(one && many);

  std::vector<NewRecord> in = Notes(600, refused);
  std::vector<WriteOutcome> expected;
  ASSERT_TRUE(one->BeginBatch().ok());
  for (const NewRecord& n : in) {
    auto w = one->Add(n.type, n.subject_id, n.fields, n.status);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    expected.push_back(std::move(*w));
  }
  ASSERT_TRUE(one->CommitBatch().ok());
  before();
  auto got = many->AddMany(std::move(in));  // outside a batch: one of its own
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const WriteOutcome& e = expected[i];
    const WriteOutcome& g = (*got)[i];
    EXPECT_EQ(g.saved(), e.saved()) << i;
    EXPECT_EQ(g.flags, e.flags) << i;
    ASSERT_EQ(g.problems.size(), e.problems.size()) << i;
    for (size_t k = 0; k < e.problems.size(); ++k) EXPECT_EQ(g.problems[k].message, e.problems[k].message);
    EXPECT_EQ(RecordToJson(g.record), RecordToJson(e.record)) << i;
  }
  EXPECT_FALSE((*got)[5].saved());
  EXPECT_FALSE((*got)[400].saved());
  EXPECT_TRUE((*got)[6].saved());
  // The files hold the same rows, byte for byte (sealed bodies included).
  one.reset();
  many.reset();
  EXPECT_EQ(Rows(path1), Rows(path2));
  EXPECT_EQ(Rows(path2).size(), 2u * 598u);  // records and versions rows (no pending rows)
}

TEST_F(StoreBatchTest, AddManyWritesExactlyWhatAsManyAddsWrite) {
  FakeClock clock{1'764'000'000'000};
  ExpectAddManyWritesWhatAddsWrite(clock, [] {});
}

TEST_F(StoreBatchTest, AddManyWritesWhatAddsWriteWhicheverThreadPreparesEachRecord) {
  // The calling thread prepares a record itself whenever the next one to
  // write is not ready. Made slow on one side, then on the other, the two
  // threads prepare records in turns (and finish them out of order); each
  // record still gets the id, stamp, nonce and rows the Adds gave it.
  for (bool slow_caller : {false, true}) {
    SCOPED_TRACE(slow_caller ? "calling thread slow" : "helper thread slow");
    SkewedClock clock{1'764'000'000'000, slow_caller};
    ExpectAddManyWritesWhatAddsWrite(clock, [&] { clock.ResetCounts(); });
    // Each stamp reads the clock twice (its time, its HLC stamp): both
    // threads stamped records, and the slow one fewer.
    EXPECT_EQ(clock.by_caller() + clock.by_others(), 2 * 600);
    EXPECT_GT(clock.by_caller(), 0);
    EXPECT_GT(clock.by_others(), 0);
    if (slow_caller) {
      EXPECT_LT(clock.by_caller(), clock.by_others());
    } else {
      EXPECT_GT(clock.by_caller(), clock.by_others());
    }
    for (const char* f : {"/one.db", "/one.db-wal", "/one.db-shm", "/many.db", "/many.db-wal", "/many.db-shm"}) {
      std::filesystem::remove(dir_ + f);
    }
  }
}

// This process's threads (the entries of /proc/self/task).
size_t ThreadCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_F(StoreBatchTest, AddManyCallsShareOneHelperThreadThatStopsWithTheStore) {
  // The store keeps one helper thread from its first two-thread AddMany
  // until it closes, asleep between calls (starting and joining one per
  // call cost about 100 µs a call); a lock and unlock keep it.
  // A thread started and joined first: a sanitizer's runtime starts a
  // thread of its own with the process's second thread.
  std::thread([] {}).join();
  const size_t before = ThreadCount();
  std::unique_ptr<Store> s = OpenUnlocked();
  ASSERT_TRUE(s->AddMany(Notes(10)).ok());  // under the pipeline's minimum: one thread
  EXPECT_EQ(ThreadCount(), before);
  ASSERT_TRUE(s->BeginBatch().ok());
  for (int call = 0; call < 20; ++call) {
    auto w = s->AddMany(Notes(100));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(ThreadCount(), before + 1) << "call " << call;
  }
  ASSERT_TRUE(s->CommitBatch().ok());
  s->Lock();
  ASSERT_TRUE(s->Unlock(Key()).ok());
  ASSERT_TRUE(s->AddMany(Notes(100)).ok());
  EXPECT_EQ(ThreadCount(), before + 1);
  s.reset();
  EXPECT_EQ(ThreadCount(), before);
  ExpectConsistent(10 + 20 * 100 + 100);
}

TEST_F(StoreBatchTest, AddManyOutsideABatchSavesAllOrNothing) {
  // Record 100's records row fails: the call's own transaction is rolled back.
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN NEW.head = 101 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  auto w = s->AddMany(Notes(300));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("records[100]"), std::string::npos) << w.status().ToString();
  auto listed = s->List({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 0u);
  // The store goes on.
  auto again = s->AddMany(Notes(50));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  s.reset();
  ExpectConsistent(50);
}

TEST_F(StoreBatchTest, AddManyInsideABatchKeepsTheRecordsBeforeAFailure) {
  // Record 40's records row fails after its version row is written.
  Sql("CREATE TRIGGER fail BEFORE INSERT ON records WHEN (SELECT max(mutation) FROM versions) = 41 "
      "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  std::unique_ptr<Store> s = OpenUnlocked();
  ASSERT_TRUE(s->BeginBatch().ok());
  auto w = s->AddMany(Notes(200));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("records[40]"), std::string::npos) << w.status().ToString();
  ASSERT_TRUE(s->CommitBatch().ok());
  s.reset();
  ExpectConsistent(40);
  EXPECT_EQ(Count("SELECT count(*) FROM versions"), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action='add'"), 40);
}

TEST_F(StoreBatchTest, AddManyChecksEveryRecordsArgumentsBeforeWriting) {
  std::unique_ptr<Store> s = OpenUnlocked();
  for (auto spoil : std::vector<void (*)(NewRecord&)>{
           [](NewRecord& n) { n.type = "case_note"; },
           [](NewRecord& n) { n.subject_id = "S ONE"; },
           [](NewRecord& n) { n.status = "closed"; },
           [](NewRecord& n) { n.fields = nlohmann::json::array(); }}) {
    std::vector<NewRecord> in = Notes(100);
    spoil(in[77]);
    auto w = s->AddMany(std::move(in));
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(w.status().message().find("records[77]"), std::string::npos) << w.status().ToString();
  }
  s.reset();
  ExpectConsistent(0);
}

TEST_F(StoreBatchTest, AddManyFlagsADuplicatePepTermWithinTheCall) {
  // A pep_update's duplicate-term check reads the subject's other PEP
  // updates, the ones earlier in the same call included.
  std::unique_ptr<Store> s = OpenUnlocked();
  std::vector<NewRecord> in = Notes(40);
  nlohmann::json pep = SampleFields("pep_update", 1'764'000'000'000);
  in.insert(in.begin() + 10, NewRecord{"pep_update", "S-PEP", pep, "draft"});
  in.push_back(NewRecord{"pep_update", "S-PEP", pep, "draft"});
  auto w = s->AddMany(std::move(in));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 42u);
  auto has = [](const WriteOutcome& o, const std::string& flag) {
    return std::find(o.flags.begin(), o.flags.end(), flag) != o.flags.end();
  };
  EXPECT_TRUE((*w)[10].saved());
  EXPECT_FALSE(has((*w)[10], kFlagDuplicateTerm));
  EXPECT_TRUE((*w)[41].saved());
  EXPECT_TRUE(has((*w)[41], kFlagDuplicateTerm));
  s.reset();
  ExpectConsistent(42);
}

}  // namespace
}  // namespace doorstep::core
