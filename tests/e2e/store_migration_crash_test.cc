// A process killed during a store migration (format 2 → 3 → 4, or 3 → 4)
// leaves a readable store of one of those formats, each step complete or not
// begun, never a mix. `doorstep device status` opens a copy of the format-2
// or format-3 fixture (tests/core/fixtures/formatN.db), which migrates it:
//  - held just before the first migration's commit (test hook
//    DOORSTEP_TEST_HOLD_MIGRATION) and SIGKILLed there: the file is still
//    the fixture's format, intact, with its own tables;
//  - SIGKILLed at random moments, a few rounds: the fixture's format or a
//    later one;
// and in every case the next open migrates (or opens) it and shows exactly
// what the fixture's code showed (tests/core/fixtures/formatN.json).
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "core/store_fixture_dump.h"
#include "core/store_test_base.h"
#include "doorstep/core/store.h"
#include "e2e/device_fixture.h"

namespace doorstep::e2e {
namespace {

using nlohmann::json;

std::string Fixture(const std::string& name) {
  const char* src = std::getenv("DOORSTEP_SOURCE");
  return std::string(src != nullptr ? src : DOORSTEP_TEST_SOURCE_DIR) + "/tests/core/fixtures/" + name;
}

using core::testing::RawQuery;

class StoreMigrationCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    key_.emplace(SecretBytes::Copy(std::string(32, '\x5a').data(), 32));
    std::string hex;
    for (int i = 0; i < 32; ++i) hex += "5a";
    key_file_ = dir_.File("keystore.key");
    WriteFile(key_file_, hex);
  }

  // Starts from fixture formatN (2 or 3).
  void UseFixture(int format) {
    fixture_format_ = format;
    std::ifstream in(Fixture("format" + std::to_string(format) + ".json"));
    std::stringstream ss;
    ss << in.rdbuf();
    expected_ = json::parse(ss.str(), nullptr, false);
    ASSERT_TRUE(expected_.is_object());
  }

  std::string FreshCopy(int round) {
    std::string path = dir_.File("device" + std::to_string(round) + ".db");
    std::filesystem::copy_file(Fixture("format" + std::to_string(fixture_format_) + ".db"), path);
    return path;
  }

  // Kills `rounds` opens of fresh copies at random moments of an open's
  // length; each leaves a whole format from the fixture's to 4, which the
  // next open takes on to format 4 with the fixture's content.
  void KillAtRandomMoments(int rounds) {
    // How long an unhindered open takes here, to spread the kills over it.
    const std::string timing = FreshCopy(100);
    auto start = std::chrono::steady_clock::now();
    RunResult ran = RunDoorstep({"device", "status", "--store", timing, "--keystore-key-file", key_file_},
                                {{"DOORSTEP_PASSPHRASE", std::nullopt}});
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    const int full_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay(0, std::max(full_ms, 2));
    std::map<std::string, int> formats;
    for (int round = 1; round <= rounds; ++round) {
      const std::string path = FreshCopy(round);
      KillDuringOpen(path, /*hold=*/false, std::chrono::milliseconds(delay(rng)));
      std::string format = RawQuery(path, "SELECT value FROM meta WHERE key='format'");
      ASSERT_TRUE(format.size() == 1 && format[0] >= '0' + fixture_format_ && format[0] <= '4')
          << "round " << round << ": format " << format;
      EXPECT_EQ(RawQuery(path, "PRAGMA integrity_check"), "ok") << "round " << round;
      // Each format's own tables: the audit_log view from 3 on, the
      // versions table's queue columns from 4 on.
      EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('records3', 'audit_log')"),
                format == "2" ? "0" : "1");
      EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM pragma_table_info('versions') WHERE name = 'session'"),
                format == "4" ? "1" : "0");
      ++formats[format];
      ExpectFixtureState(path, "round " + std::to_string(round) + " (format " + format + " after the kill)");
    }
    for (const auto& [format, n] : formats) RecordProperty("format" + format + "_rounds", n);
  }

  // Spawns `device status` on `path`; kills it when `hold` and the hook says
  // it is held, or `delay` after the start. Returns the captured stderr.
  std::string KillDuringOpen(const std::string& path, bool hold, std::chrono::milliseconds delay) {
    EnvChanges env = {{"DOORSTEP_PASSPHRASE", std::nullopt}};
    if (hold) env["DOORSTEP_TEST_HOLD_MIGRATION"] = "1";
    int err_fd = -1;
    pid_t pid = Spawn({"device", "status", "--store", path, "--keystore-key-file", key_file_}, env, nullptr,
                      nullptr, &err_fd);
    EXPECT_GT(pid, 0);
    if (pid <= 0) return "";
    std::string err;
    auto until = std::chrono::steady_clock::now() + (hold ? std::chrono::milliseconds(20000) : delay);
    while (std::chrono::steady_clock::now() < until) {
      if (hold && err.find("held before commit") != std::string::npos) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd p{err_fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      char buf[512];
      ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) {
        if (!hold) std::this_thread::sleep_until(until);
        break;
      }
      err.append(buf, static_cast<size_t>(n));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(err_fd);
    return err;
  }

  // Opens `path` with the current code and checks it shows the fixture's state.
  void ExpectFixtureState(const std::string& path, const std::string& what) {
    auto store = core::Store::Open(path, RealEnv());
    ASSERT_TRUE(store.ok()) << what << ": " << store.status().ToString();
    core::KeySource key{nullptr, &*key_};
    ASSERT_TRUE((*store)->Unlock(key).ok()) << what;
    json got = core::testing::DumpStore(**store);
    store->reset();
    for (const char* part : {"records", "history", "list_order", "pending", "conflicts", "status"}) {
      EXPECT_EQ(got[part], expected_[part]) << what << ": " << part;
    }
    EXPECT_EQ(core::testing::DumpAuditRows(path, "audit_log"), expected_["audit"]) << what;
    EXPECT_EQ(RawQuery(path, "SELECT value FROM meta WHERE key='format'"), "4") << what;
  }

  TempDir dir_;
  // Starts from fixture format `format`, holds its first migration just
  // before the commit and kills it there (`*path`: the file): it must still
  // be that format, and sound.
  void KillHeldMigration(int format, std::string* path) {
    ASSERT_NO_FATAL_FAILURE(UseFixture(format));
    *path = FreshCopy(0);
    std::string err = KillDuringOpen(*path, /*hold=*/true, std::chrono::milliseconds(0));
    ASSERT_NE(err.find("held before commit"), std::string::npos) << "the hook never held: " << err;
    EXPECT_EQ(RawQuery(*path, "SELECT value FROM meta WHERE key='format'"), std::to_string(format));
    EXPECT_EQ(RawQuery(*path, "PRAGMA integrity_check"), "ok");
  }

  std::string key_file_;
  std::optional<SecretBytes> key_;
  int fixture_format_ = 2;
  json expected_;
};

TEST_F(StoreMigrationCrashTest, KilledBeforeCommitLeavesFormat2) {
  std::string path;
  ASSERT_NO_FATAL_FAILURE(KillHeldMigration(2, &path));
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM records WHERE length(id) = 32 AND hlc <> ''"),
            std::to_string(expected_["records"].size()))
      << "the format-2 records table";
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('records3', 'audit_log')"), "0");
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM audit"), std::to_string(expected_["audit"].size()));
  ExpectFixtureState(path, "after the killed migration");
}

TEST_F(StoreMigrationCrashTest, KilledBeforeCommitLeavesFormat3) {
  std::string path;
  ASSERT_NO_FATAL_FAILURE(KillHeldMigration(3, &path));
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM pragma_table_info('versions') WHERE name IN ('session', 'pdetail')"),
            "0")
      << "the format-3 versions table";
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM meta WHERE key = 'queue_from'"), "0");
  ExpectFixtureState(path, "after the killed migration");
}

TEST_F(StoreMigrationCrashTest, KilledAtRandomMomentsFromFormat2LeavesAWholeFormat) {
  UseFixture(2);
  KillAtRandomMoments(6);
}

TEST_F(StoreMigrationCrashTest, KilledAtRandomMomentsFromFormat3LeavesAWholeFormat) {
  UseFixture(3);
  KillAtRandomMoments(4);
}

}  // namespace
}  // namespace doorstep::e2e
