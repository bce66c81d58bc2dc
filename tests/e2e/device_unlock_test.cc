// End-to-end tests of unlocking through the real binary: wrong passphrase
// (exit 4, the failure counter, the wipe at the limit), passwd, keystore and
// combined key modes, wipe, and tampered ciphertexts (exit 8).
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doorstep/core/samples.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/store.h"
#include "e2e/device_fixture.h"

namespace doorstep::e2e {
namespace {

using nlohmann::json;

// The store's failure counter, read in-process (the file stays locked).
int FailedUnlocks(const std::string& path) {
  if (!Initialize().ok()) return -1;
  Result<std::unique_ptr<core::Store>> s = core::Store::Open(path, RealEnv());
  return s.ok() ? (*s)->failed_unlocks() : -1;
}

TEST_F(DeviceCliTest, WrongPassphraseCountsAndWipesAtTheLimit) {
  Init({"--max-failed-unlocks", "3"});
  std::string id = Add("visit_note", "S-1", core::SampleFields("visit_note", NowMs()));
  const EnvChanges wrong = {{"DOORSTEP_PASSPHRASE", std::string("wrong passphrase")}};

  RunResult w1 = Device("show", {id}, "", wrong);
  EXPECT_EQ(w1.exit_code, 4);
  EXPECT_NE(w1.err.find("(1 of 3 attempts"), std::string::npos) << w1.err;
  EXPECT_EQ(w1.out, "") << "nothing decrypted on a failed unlock";
  EXPECT_EQ(FailedUnlocks(store_), 1);
  RunResult w2 = Device("list", {}, "", wrong);
  EXPECT_EQ(w2.exit_code, 4);
  EXPECT_NE(w2.err.find("(2 of 3 attempts"), std::string::npos) << w2.err;

  // A correct unlock resets the counter: two more wrong ones do not wipe.
  EXPECT_EQ(FailedUnlocks(store_), 2);
  ASSERT_EQ(Device("show", {id}).exit_code, 0);
  EXPECT_EQ(FailedUnlocks(store_), 0);
  RunResult w3 = Device("list", {}, "", wrong);
  EXPECT_EQ(w3.exit_code, 4);
  EXPECT_NE(w3.err.find("(1 of 3 attempts"), std::string::npos) << w3.err;
  EXPECT_EQ(Device("list", {}, "", wrong).exit_code, 4);
  ASSERT_TRUE(Exists(store_));

  // The third in a row wipes the store, and says so.
  RunResult last = Device("list", {}, "", wrong);
  EXPECT_EQ(last.exit_code, 4);
  EXPECT_NE(last.err.find("wiped"), std::string::npos) << last.err;
  EXPECT_FALSE(Exists(store_));
  EXPECT_FALSE(Exists(store_ + "-wal"));
  EXPECT_EQ(Device("show", {id}).exit_code, 5) << "the store is gone, even for the right passphrase";
}

TEST_F(DeviceCliTest, PasswdThenOnlyTheNewPassphraseOpens) {
  Init();
  json fields = core::SampleFields("return_home_interview", NowMs());
  std::string id = Add("return_home_interview", "S-1", fields);
  RunResult no_new = Device("passwd");
  EXPECT_EQ(no_new.exit_code, 2) << "no DOORSTEP_NEW_PASSPHRASE and no terminal";
  EXPECT_NE(no_new.err.find("DOORSTEP_NEW_PASSPHRASE"), std::string::npos) << no_new.err;

  const std::string fresh = "a new passphrase for the store";
  RunResult pw = Device("passwd", {}, "", {{"DOORSTEP_NEW_PASSPHRASE", fresh}});
  ASSERT_EQ(pw.exit_code, 0) << pw.err;
  EXPECT_EQ(Device("show", {id}).exit_code, 4) << "the old passphrase no longer opens";
  RunResult show = Device("show", {id, "--json"}, "", {{"DOORSTEP_PASSPHRASE", fresh}});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(Json(show)["fields"], fields);
  RunResult hist = Device("history", {id, "--json"}, "", {{"DOORSTEP_PASSPHRASE", fresh}});
  ASSERT_EQ(hist.exit_code, 0) << hist.err;
  EXPECT_EQ(Json(hist).size(), 1u) << "passwd touches no record";

  RunResult wrong_old = Device("passwd", {}, "", {{"DOORSTEP_NEW_PASSPHRASE", std::string("x")}});
  EXPECT_EQ(wrong_old.exit_code, 4);
}

TEST_F(DeviceCliTest, KeystoreAndCombinedKeyModes) {
  const std::string raw_key = dir_.File("raw.key");
  WriteFile(raw_key, std::string("0123456789abcdef0123456789abcdef"));  // 32 raw bytes
  const std::string hex_key = dir_.File("hex.key");
  WriteFile(hex_key, std::string(64, 'c') + "\n");
  const EnvChanges no_pass = {{"DOORSTEP_PASSPHRASE", std::nullopt}};

  // Keystore only.
  RunResult init = Device("init", {"--keystore-key-file", raw_key}, "", no_pass);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(Device("list", {"--keystore-key-file", raw_key}, "", no_pass).exit_code, 0);
  EXPECT_EQ(Device("list", {"--keystore-key-file", hex_key}, "", no_pass).exit_code, 4);
  EXPECT_EQ(Device("list").exit_code, 4) << "a passphrase alone does not open it";

  // Passphrase and keystore key together: neither alone opens it.
  store_ = dir_.File("both.db");
  Init({"--keystore-key-file", hex_key});
  EXPECT_EQ(Device("list", {"--keystore-key-file", hex_key}).exit_code, 0);
  EXPECT_EQ(Device("list", {"--keystore-key-file", hex_key}, "", no_pass).exit_code, 4);
  EXPECT_EQ(Device("list").exit_code, 4);

  WriteFile(dir_.File("short.key"), "abc");
  RunResult bad = Device("list", {"--keystore-key-file", dir_.File("short.key")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--keystore-key-file"), std::string::npos) << bad.err;
}

TEST_F(DeviceCliTest, WipeNeedsThePassphraseOrForce) {
  Init();
  Add("visit_note", "S-1", core::SampleFields("visit_note", NowMs()));
  RunResult no_pass = Device("wipe", {}, "", {{"DOORSTEP_PASSPHRASE", std::nullopt}});
  EXPECT_EQ(no_pass.exit_code, 2);
  EXPECT_TRUE(Exists(store_));
  EXPECT_EQ(Device("wipe", {}, "", {{"DOORSTEP_PASSPHRASE", std::string("nope")}}).exit_code, 4);
  EXPECT_TRUE(Exists(store_));
  RunResult ok = Device("wipe");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_FALSE(Exists(store_));
  EXPECT_EQ(Device("wipe").exit_code, 5);

  Init();
  RunResult forced = Device("wipe", {"--force"}, "", {{"DOORSTEP_PASSPHRASE", std::nullopt}});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_FALSE(Exists(store_));

  // --force refuses a file that is not a store.
  const std::string other = dir_.File("notes.txt");
  WriteFile(other, "not a store, and not to be deleted\n");
  RunResult refused = RunDoorstep({"device", "wipe", "--store", other, "--force"}, env_);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(Exists(other));
}

// Flips one byte (at `where`: 0 first, 1 middle, 2 last) of every blob at
// least as long as a seal's overhead in every row that names `id` (as hex
// text or as its 16 bytes), and of the version row its record row points at.
// Returns how many blobs were changed.
int TamperRecord(const std::string& path, const std::string& id, int where) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table'", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  struct Change {
    std::string table, column, old_value;
  };
  std::vector<Change> changes;
  std::vector<int64_t> heads;  // version rows the record's row points at (docs/store.md)
  for (const std::string& t : tables) {
    if (sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\"").c_str(), -1, &st, nullptr) !=
        SQLITE_OK) {
      continue;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      int n = sqlite3_column_count(st);
      bool names_id = false;
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_TEXT &&
            reinterpret_cast<const char*>(sqlite3_column_text(st, c)) == id) {
          names_id = true;
        }
        // Store format 3 keeps record ids as their 16 bytes.
        if (sqlite3_column_type(st, c) == SQLITE_BLOB && sqlite3_column_bytes(st, c) == 16 &&
            core::ToHex(std::string(static_cast<const char*>(sqlite3_column_blob(st, c)), 16)) == id) {
          names_id = true;
        }
      }
      if (!names_id) continue;
      for (int c = 0; c < n; ++c) {
        if (std::string(sqlite3_column_name(st, c)) == "head") heads.push_back(sqlite3_column_int64(st, c));
        if (sqlite3_column_type(st, c) != SQLITE_BLOB || sqlite3_column_bytes(st, c) < 40) continue;
        changes.push_back({t, sqlite3_column_name(st, c),
                           std::string(static_cast<const char*>(sqlite3_column_blob(st, c)),
                                       static_cast<size_t>(sqlite3_column_bytes(st, c)))});
      }
    }
    sqlite3_finalize(st);
  }
  for (int64_t seq : heads) {
    sqlite3_prepare_v2(db, "SELECT body FROM versions WHERE seq = ?", -1, &st, nullptr);
    sqlite3_bind_int64(st, 1, seq);
    if (sqlite3_step(st) == SQLITE_ROW) {
      changes.push_back({"versions", "body",
                         std::string(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                                     static_cast<size_t>(sqlite3_column_bytes(st, 0)))});
    }
    sqlite3_finalize(st);
  }
  int changed = 0;
  for (const Change& ch : changes) {
    std::string v = ch.old_value;
    size_t pos = where == 0 ? 0 : where == 1 ? v.size() / 2 : v.size() - 1;
    v[pos] = static_cast<char>(v[pos] ^ 0x01);
    std::string sql = "UPDATE \"" + ch.table + "\" SET \"" + ch.column + "\" = ?1 WHERE \"" +
                      ch.column + "\" = ?2";
    sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
    sqlite3_bind_blob(st, 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, ch.old_value.data(), static_cast<int>(ch.old_value.size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE) changed += sqlite3_changes(db);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return changed;
}

TEST_F(DeviceCliTest, TamperedCiphertextExits8) {
  Init();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(Add("visit_note", "S-1", core::SampleFields("visit_note", NowMs())));
  }
  // Nonce, ciphertext and tag of three records; the fourth stays intact.
  for (int where = 0; where < 3; ++where) {
    ASSERT_GT(TamperRecord(store_, ids[static_cast<size_t>(where)], where), 0)
        << "no sealed value found for the record";
    RunResult r = Device("show", {ids[static_cast<size_t>(where)]});
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_EQ(r.out, "") << "never garbage";
    EXPECT_EQ(r.err.rfind("doorstep: ", 0), 0u) << r.err;
  }
  RunResult intact = Device("show", {ids[3], "--json"});
  EXPECT_EQ(intact.exit_code, 0) << intact.err;
  EXPECT_EQ(Device("list", {"--json"}).exit_code, 8);
}

}  // namespace
}  // namespace doorstep::e2e
