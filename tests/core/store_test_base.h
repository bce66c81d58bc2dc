// What a core store test stands on: a temporary directory (removed after
// the test) holding `path_`, a fake clock, a seeded random source, a
// keystore key of 32 bytes of `key_byte`, and the Env over them. A test
// class passes its own seed (and, if it needs them, the clock's start and
// the key's byte) to the constructor; one that overrides SetUp calls
// StoreTestBase::SetUp() first. UnlockedStoreTest adds a store made there
// and unlocked. Beside them: a visit note as the server sends it, and one
// value read from a store file directly. Test-only.
#ifndef DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_
#define DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "doorstep/core/crypto.h"
#include "doorstep/core/env.h"
#include "doorstep/core/record.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"

namespace doorstep::core::testing {

class StoreTestBase : public ::testing::Test {
 protected:
  explicit StoreTestBase(uint64_t seed, int64_t start_ms = 1'764'000'000'000, char key_byte = '\x42')
      : clock_(start_ms), random_(seed), key_byte_(key_byte) {}

  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    key_.emplace(SecretBytes::Copy(std::string(32, key_byte_).data(), 32));
    char tmpl[] = "/tmp/doorstep-store-test-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr) << "mkdtemp";
    dir_ = dir;
    path_ = dir_ + "/device.db";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The keystore key alone.
  KeySource Key() { return KeySource{nullptr, &*key_}; }

  // Opens the store at path_ and unlocks it with Key(); null (and a test
  // failure) if it cannot.
  std::unique_ptr<Store> OpenUnlocked() {
    auto s = Store::Open(path_, env_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    Status u = (*s)->Unlock(Key());
    EXPECT_TRUE(u.ok()) << u.ToString();
    return std::move(*s);
  }

  std::string dir_, path_;
  std::optional<SecretBytes> key_;
  FakeClock clock_;
  SeededRandom random_;
  NullLogger logger_;
  Env env_{&clock_, &random_, &logger_};

 private:
  char key_byte_;
};

// A store created at path_ with the keystore key and unlocked (`store_`);
// closed before the directory goes.
class UnlockedStoreTest : public StoreTestBase {
 protected:
  using StoreTestBase::StoreTestBase;

  void SetUp() override {
    StoreTestBase::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Store::Create(path_, Key(), {}, env_).ok());
    store_ = OpenUnlocked();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    StoreTestBase::TearDown();
  }

  std::unique_ptr<Store> store_;
};

// A visit note (sample fields) as the server sends it: revision `rev`,
// written by another practitioner on another device at `now_ms`.
inline Record PulledVisitNote(const std::string& id, const std::string& subject, int64_t now_ms, int64_t rev = 1) {
  Record r;
  r.id = id;
  r.type = "visit_note";
  r.subject_id = subject;
  r.author_id = "worker-2";
  r.device_id = std::string(32, 'd');
  r.rev = rev;
  r.hlc = std::to_string(now_ms) + "-00000000-" + r.device_id;
  r.created_at = r.updated_at = r.server_received_at = now_ms;
  r.fields = SampleFields("visit_note", now_ms);
  return r;
}

// The first column of the first row of `sql` on the file at `path`, read
// directly (read-only, no key): "(no row)" if there is none, "(error) ..."
// if the statement does not prepare.
inline std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out = "(no row)";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      out = std::string("(error) ") + sqlite3_errmsg(db);
    } else if (sqlite3_step(st) == SQLITE_ROW) {
      out.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace doorstep::core::testing

#endif  // DOORSTEP_TESTS_CORE_STORE_TEST_BASE_H_
