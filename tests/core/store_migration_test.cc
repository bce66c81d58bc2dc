// Store format 2 → 3: a format-2 store made by the format-2 code
// (tests/core/fixtures/format2.db, from fixtures/make_fixture_store.cc) is
// opened by the current code, which migrates it; every record, history
// version, pending and rejected mutation, conflict, the status and the audit
// log must be what the format-2 code showed (fixtures/format2.json), and the
// store must go on working. An inconsistent format-2 file is refused and
// left as it was. (A process killed during the migration:
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

class StoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    key_.emplace(SecretBytes::Copy(std::string(32, '\x5a').data(), 32));
    char tmpl[] = "/tmp/doorstep-migrate-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/device.db";
    fs::copy_file(FixtureDir() + "/format2.db", path_);
    std::ifstream in(FixtureDir() + "/format2.json");
    std::stringstream ss;
    ss << in.rdbuf();
    expected_ = json::parse(ss.str(), nullptr, false);
    ASSERT_TRUE(expected_.is_object()) << "fixture json";
    env_ = Env{&clock_, &random_, &logger_};
  }
  void TearDown() override { fs::remove_all(dir_); }

  KeySource Key() { return KeySource{nullptr, &*key_}; }

  std::string dir_, path_;
  json expected_;
  FakeClock clock_{1'764'100'000'000};
  SeededRandom random_{99};
  NullLogger logger_;
  Env env_;
  std::optional<SecretBytes> key_;  // after Initialize(): 32 bytes 0x5a, the fixture's keystore key
};

TEST_F(StoreMigrationTest, EverythingSurvivesAndOpens) {
  ASSERT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), "2");
  auto store = Store::Open(path_, env_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(RawQuery(path_, "SELECT value FROM meta WHERE key='format'"), "3");
  EXPECT_EQ(RawQuery(path_, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%3'"), "0") << "no leftovers";
  ASSERT_TRUE((*store)->Unlock(Key()).ok());
  json got = testing::DumpStore(**store);
  for (const char* part : {"records", "history", "list_order", "pending", "conflicts", "status"}) {
    EXPECT_EQ(got[part], expected_[part]) << part;
  }
  EXPECT_EQ(testing::DumpAuditRows(path_, "audit_log"), expected_["audit"]);
  // The write audit rows moved onto their version rows; the rest stayed.
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM audit WHERE action IN ('add','edit','amend')"), "1")
      << "only the purged record's add (no version holds it) stays in the audit table";

  // The store goes on: a new record, an edit of a migrated one, the acks of
  // migrated mutations (same ids), a pull onto a migrated record.
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
  std::vector<MutationAck> acks;
  for (const json& m : expected_["pending"]) acks.push_back({m["mutation_id"], "applied", 5, ""});
  ASSERT_TRUE(ApplyPushAcks(s, acks).ok());
  auto left = PendingMutations(s, 100);
  ASSERT_EQ(left->size(), 2u);
  EXPECT_NE((*left)[0].mutation_id.substr(0, 24), (*pending)[0].mutation_id.substr(0, 24)) << "a new session prefix";
  EXPECT_EQ(s.GetStatus()->rejected, 1);
  auto hist = s.History(migrated_id);
  ASSERT_TRUE(hist.ok());
  EXPECT_EQ(hist->size(), expected_["history"][migrated_id].size() + 1);
  auto log = testing::DumpAuditRows(path_, "audit_log");
  EXPECT_EQ(log.size(), expected_["audit"].size() + 3);  // add, edit, push

  // Opening again is a plain open.
  store->reset();
  auto again = Store::Open(path_, env_);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Unlock(Key()).ok());
  EXPECT_EQ((*again)->List({})->size(), expected_["records"].size() + 1);
}

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

// The migrated file has exactly the tables, columns, indexes and view of a
// store made by the current code: the migration's copy of the schema cannot
// drift from the one Create writes.
TEST_F(StoreMigrationTest, MigratedSchemaIsAFreshStoresSchema) {
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

}  // namespace
}  // namespace doorstep::core
