// Store formats 2 → 3 → 4 and 3 → 4: a format-N store made by the format-N
// code (tests/core/fixtures/formatN.db, from fixtures/make_fixture_store.cc)
// is opened by the current code, which migrates it; every record, history
// version, pending and rejected mutation, conflict, the status and the audit
// log must be what the format-N code showed (fixtures/formatN.json), and the
// store must go on working: new mutations queue after the migrated ones, and
// both kinds are pushed and acknowledged. An inconsistent format-2 file is
// refused and left as it was. (A process killed during the migration:
// tests/e2e/store_migration_crash_test.cc.)
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <algorithm>

#include "core/store_fixture_dump.h"
#include "core/store_test_base.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"

namespace doorstep::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string FixtureDir() {
  const char* src = std::getenv("DOORSTEP_SOURCE");
  return std::string(src != nullptr ? src : DOORSTEP_TEST_SOURCE_DIR) + "/tests/core/fixtures";
}

// One clear value from the file, read directly ("" if none).
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

// Every table's and index's columns (PRAGMA table_xinfo / index_xinfo) and
// every view's SQL, one line each, sorted: what a statement can rely on.
std::string SchemaShape(const std::string& path) {
  sqlite3* db = nullptr;
  std::vector<std::string> lines;
  auto rows = [&db](const std::string& sql, int columns) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string line;
      for (int i = 0; i < columns; ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        line += (t != nullptr ? reinterpret_cast<const char*>(t) : "NULL") + std::string("|");
      }
      out.push_back(line);
    }
    sqlite3_finalize(st);
    return out;
  };
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    for (const std::string& obj : rows("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'", 3)) {
      std::string type = obj.substr(0, obj.find('|'));
      std::string rest = obj.substr(obj.find('|') + 1);
      std::string name = rest.substr(0, rest.find('|'));
      lines.push_back(obj);
      if (type == "table") {
        for (const std::string& c : rows("PRAGMA table_xinfo('" + name + "')", 6)) lines.push_back(name + ": " + c);
      } else if (type == "index") {
        for (const std::string& c : rows("PRAGMA index_xinfo('" + name + "')", 6)) lines.push_back(name + ": " + c);
      } else if (type == "view") {
        for (const std::string& v : rows("SELECT sql FROM sqlite_master WHERE name='" + name + "'", 1)) {
          lines.push_back(name + ": " + v);
        }
      }
    }
    for (const std::string& w : rows("SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE '%WITHOUT ROWID%'", 1)) {
      lines.push_back("without rowid: " + w);
    }
  }
  sqlite3_close(db);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The fixtures' keystore key is 32 bytes 0x5a.
class StoreMigrationTest : public testing::StoreTestBase {
 protected:
  StoreMigrationTest() : StoreTestBase(/*seed=*/99, 1'764'100'000'000, '\x5a') {}
  // The fixture the test starts from: "format2" or "format3".
  virtual std::string FixtureName() const { return "format2"; }

  void SetUp() override {
    StoreTestBase::SetUp();
    if (HasFatalFailure()) return;
    fs::copy_file(FixtureDir() + "/" + FixtureName() + ".db", path_);
    std::ifstream in(FixtureDir() + "/" + FixtureName() + ".json");
    std::stringstream ss;
    ss << in.rdbuf();
    expected_ = json::parse(ss.str(), nullptr, false);
    ASSERT_TRUE(expected_.is_object()) << "fixture json";
  }

  // The migrated file has exactly the tables, columns, indexes and view of
  // a store made by the current code: the migration's copy of the schema
  // cannot drift from the one Create writes.
  void ExpectFreshSchemaAfterMigration() {
    {
      auto store = Store::Open(path_, env_);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
    }
    const std::string fresh = dir_ + "/fresh.db";
    {
      auto store = Store::Create(fresh, Key(), {}, env_);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
    }
    std::string migrated_shape = SchemaShape(path_);
    ASSERT_NE(migrated_shape, "");
    EXPECT_EQ(migrated_shape, SchemaShape(fresh));
  }

  // Opens the fixture with the current code (which migrates it), checks it
  // shows what the fixture's code showed, and goes on using it.
  void ExpectMigratedAndWorking(const std::string& from_format) {
    ASSERT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), from_format);
    auto store = Store::Open(path_, env_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), "4");
    EXPECT_EQ(RawQuery(path_, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%3' OR name LIKE '%4'"), "0")
        << "no leftovers";
    // Every version row kept its place and bytes; none is queued in its row
    // (the migrated mutations stay in `pending`), and the next seq starts
    // above every version and pending seq.
    EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM versions WHERE session IS NOT NULL OR pdetail IS NOT NULL"), "0");
    EXPECT_EQ(RawQuery(path_, "SELECT CAST(value AS INTEGER) = max((SELECT max(seq) FROM versions),"
                              " (SELECT max(seq) FROM pending)) + 1 FROM meta WHERE key='queue_from'"),
              "1");
    ASSERT_TRUE((*store)->Unlock(Key()).ok());
    json got = testing::DumpStore(**store);
    for (const char* part : {"records", "history", "list_order", "pending", "conflicts", "status"}) {
      EXPECT_EQ(got[part], expected_[part]) << part;
    }
    EXPECT_EQ(testing::DumpAuditRows(path_, "audit_log"), expected_["audit"]);
    // The write audit rows moved onto their version rows; the rest stayed.
    EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM audit WHERE action IN ('add','edit','amend')"),
              from_format == "2" ? "1" : "0")
        << "only the purged record's add (no version holds it) stays in the audit table of a format-2 store";

    // The store goes on: a new record, an edit of a migrated one, the acks of
    // migrated mutations (same ids) and of the new ones, a pull onto a
    // migrated record.
    Store& s = **store;
    auto added = s.Add("visit_note", "S-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
    ASSERT_TRUE(added.ok() && added->saved());
    std::string migrated_id;  // the final visit note written here: this edit amends it
    for (const json& r : expected_["records"]) {
      if (r["type"] == "visit_note" && r["status"] == "final") migrated_id = r["id"];
    }
    ASSERT_FALSE(migrated_id.empty());
    auto edited = s.Edit(migrated_id, {{"location", "Library"}}, std::nullopt);
    ASSERT_TRUE(edited.ok() && edited->saved()) << edited.status().ToString();
    EXPECT_TRUE(edited->record.amends.has_value());
    auto pending = PendingMutations(s, 100);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), expected_["pending"].size() + 2);
    // The migrated mutations first, in their order, then the new ones.
    for (size_t i = 0; i < expected_["pending"].size(); ++i) {
      EXPECT_EQ((*pending)[i].mutation_id, expected_["pending"][i]["mutation_id"]) << i;
    }
    EXPECT_EQ((*pending)[pending->size() - 2].record.id, added->record.id);
    EXPECT_EQ((*pending)[pending->size() - 1].record.id, migrated_id);
    for (size_t i = 1; i < pending->size(); ++i) EXPECT_GT((*pending)[i].seq, (*pending)[i - 1].seq);
    // Paging with `after` walks both kinds in the same order.
    std::vector<std::string> paged;
    for (int64_t after = 0;;) {
      auto page = PendingMutations(s, 2, after);
      ASSERT_TRUE(page.ok());
      if (page->empty()) break;
      for (const OutgoingMutation& m : *page) paged.push_back(m.mutation_id);
      after = page->back().seq;
    }
    ASSERT_EQ(paged.size(), pending->size());
    for (size_t i = 0; i < paged.size(); ++i) EXPECT_EQ(paged[i], (*pending)[i].mutation_id);
    std::vector<MutationAck> acks;
    for (const json& m : expected_["pending"]) acks.push_back({m["mutation_id"], "applied", 5, ""});
    ASSERT_TRUE(ApplyPushAcks(s, acks).ok());
    auto left = PendingMutations(s, 100);
    ASSERT_TRUE(left.ok());
    ASSERT_EQ(left->size(), 2u);
    EXPECT_NE((*left)[0].mutation_id.substr(0, 24), (*pending)[0].mutation_id.substr(0, 24)) << "a new session prefix";
    EXPECT_EQ(s.GetStatus()->pending, 2);
    EXPECT_EQ(s.GetStatus()->rejected, 1);
    // A pulled revision of the amended record keeps the new local edit (queued
    // in its version row) on top of the server's fields.
    {
      auto cur = s.Get(migrated_id);
      ASSERT_TRUE(cur.ok());
      Record server = *cur;
      server.rev = cur->rev + 1;
      server.local_version = 0;
      server.author_id = "worker-2";
      server.device_id = std::string(32, 'd');
      server.hlc = "1764100000000-00000000-" + server.device_id;
      server.server_received_at = clock_.NowMillis();
      server.fields["location"] = "Office";
      server.fields["analysis"] = "Reviewed at the office.\n";
      auto pulled = ApplyPulledBatch(s, std::vector<Record>{server}, {}, {}, 99);
      ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
      EXPECT_EQ(pulled->records, 1);
      auto after = s.Get(migrated_id);
      ASSERT_TRUE(after.ok());
      EXPECT_EQ(after->fields["location"], "Library") << "the queued local edit stays on top";
      EXPECT_EQ(after->fields["analysis"], "Reviewed at the office.\n");
    }
    ASSERT_TRUE(ApplyPushAcks(s, {{(*left)[0].mutation_id, "applied", 1, ""},
                                  {(*left)[1].mutation_id, "rejected", 0, "not on caseload"}}).ok());
    EXPECT_TRUE(PendingMutations(s, 100)->empty());
    EXPECT_EQ(s.GetStatus()->pending, 0);
    EXPECT_EQ(s.GetStatus()->rejected, 2);
    auto hist = s.History(migrated_id);
    ASSERT_TRUE(hist.ok());
    EXPECT_EQ(hist->size(), expected_["history"][migrated_id].size() + 2);  // the edit, the pull
    auto log = testing::DumpAuditRows(path_, "audit_log");
    EXPECT_EQ(log.size(), expected_["audit"].size() + 6);  // add, edit, push, pull, push_rejected, push

    // Opening again is a plain open.
    store->reset();
    auto again = Store::Open(path_, env_);
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->Unlock(Key()).ok());
    EXPECT_EQ((*again)->List({})->size(), expected_["records"].size() + 1);
    EXPECT_EQ((*again)->GetStatus()->rejected, 2);
  }

  json expected_;
};

TEST_F(StoreMigrationTest, EverythingSurvivesAndOpens) { ExpectMigratedAndWorking("2"); }

TEST_F(StoreMigrationTest, InconsistentFormat2IsRefusedAndLeftAsItWas) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE pending SET from_seq = from_seq + 1000 WHERE state='pending'", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::Open(path_, env_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption) << store.status().ToString();
  EXPECT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), "2");
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM sqlite_master WHERE name IN ('records3','versions3','pending3')"),
            "0");
  EXPECT_NE(RawQuery(path_, "SELECT hlc FROM records LIMIT 1"), "") << "still the format-2 tables";
  EXPECT_EQ(RawQuery(path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(StoreMigrationTest, RecordIdThatIsNotHexIsRefusedAndLeftAsItWas) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE records SET id = 'zz' || substr(id, 3) WHERE rid = 1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::Open(path_, env_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption) << store.status().ToString();
  EXPECT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), "2");
  EXPECT_EQ(RawQuery(path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(StoreMigrationTest, MigratedSchemaIsAFreshStoresSchema) { ExpectFreshSchemaAfterMigration(); }

// A format-3 store (made by the format-3 code, 955aadd): its queued
// mutations stay in `pending`, and the versions table gains its queue
// columns in place.
class StoreMigration3Test : public StoreMigrationTest {
 protected:
  std::string FixtureName() const override { return "format3"; }
};

TEST_F(StoreMigration3Test, EverythingSurvivesAndOpens) { ExpectMigratedAndWorking("3"); }

TEST_F(StoreMigration3Test, MigratedSchemaIsAFreshStoresSchema) { ExpectFreshSchemaAfterMigration(); }

}  // namespace
}  // namespace doorstep::core
