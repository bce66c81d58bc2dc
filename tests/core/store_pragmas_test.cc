// Every connection the store opens — on Create and on Open — runs with the
// settings docs/store.md promises: WAL, synchronous=FULL, secure_delete,
// temp_store=MEMORY, and the 8 MB page cache.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

int64_t Pragma(Store& store, const std::string& name) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(store.impl()->db().raw(), ("PRAGMA " + name).c_str(), -1, &st, nullptr), SQLITE_OK);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_type(st, 0) == SQLITE_TEXT
            ? (std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal" ? 1 : 0)
            : sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return v;
}

void ExpectSettings(Store& store) {
  EXPECT_EQ(Pragma(store, "journal_mode"), 1) << "WAL";
  EXPECT_EQ(Pragma(store, "synchronous"), 2) << "FULL";
  EXPECT_EQ(Pragma(store, "secure_delete"), 1);
  EXPECT_EQ(Pragma(store, "temp_store"), 2) << "MEMORY";
  EXPECT_EQ(Pragma(store, "cache_size"), -8192) << "8 MB";
}

TEST(StorePragmasTest, CreateAndOpenUseTheStoreSettings) {
  ASSERT_TRUE(Initialize().ok());
  char tmpl[] = "/tmp/doorstep-pragmas-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/device.db";
  FakeClock clock{1'764'000'000'000};
  SeededRandom random{11};
  NullLogger logger;
  Env env{&clock, &random, &logger};
  std::string pass = "pragma passphrase";
  StoreOptions o;
  o.kdf = KdfProfile::kInteractive;
  {
    auto created = Store::Create(path, KeySource{&pass, nullptr}, o, env);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    ExpectSettings(**created);
  }
  {
    auto opened = Store::Open(path, env);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ExpectSettings(**opened);
  }
  std::filesystem::remove_all(dir);
}

// Refuses "PRAGMA synchronous=FULL" (at prepare time), allows the rest.
int DenySynchronousFull(void*, int action, const char* a1, const char* a2, const char*, const char*) {
  if (action == SQLITE_PRAGMA && a1 != nullptr && a2 != nullptr && sqlite3_stricmp(a1, "synchronous") == 0 &&
      sqlite3_stricmp(a2, "FULL") == 0) {
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

// A no-op sync writes its time with synchronous=NORMAL for one commit; FULL
// is back afterwards, and if it cannot be restored the store closes rather
// than carry on with commits that a power cut could undo.
TEST(StorePragmasTest, UnsyncedLastSyncRestoresFullOrClosesTheStore) {
  ASSERT_TRUE(Initialize().ok());
  char tmpl[] = "/tmp/doorstep-pragmas-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/device.db";
  FakeClock clock{1'764'000'000'000};
  SeededRandom random{12};
  NullLogger logger;
  Env env{&clock, &random, &logger};
  std::string pass = "pragma passphrase";
  StoreOptions o;
  o.kdf = KdfProfile::kInteractive;
  auto created = Store::Create(path, KeySource{&pass, nullptr}, o, env);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Store& store = **created;

  ASSERT_TRUE(SetLastSyncUnsynced(store, 1'764'000'001'000).ok());
  EXPECT_EQ(Pragma(store, "synchronous"), 2) << "FULL again after the unsynced write";
  auto st = store.GetStatus();
  ASSERT_TRUE(st.ok()) << st.status().ToString();

  sqlite3_set_authorizer(store.impl()->db().raw(), DenySynchronousFull, nullptr);
  Status s = SetLastSyncUnsynced(store, 1'764'000'002'000);
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_NE(s.message().find("synchronous=FULL"), std::string::npos) << s.message();
  EXPECT_FALSE(store.GetStatus().ok()) << "the store must be closed, not left at synchronous=NORMAL";

  // Reopened, the store has FULL again and the last durable state.
  auto opened = Store::Open(path, env);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ExpectSettings(**opened);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace doorstep::core
