// Crash test with real processes: `doorstep device crash-writer` adds records
// in a loop and prints each committed id; we SIGKILL it at a random moment
// (5–80 ms after its first commit, or after start), at least 50 rounds on one
// store. After each kill: the store opens and unlocks, `PRAGMA
// integrity_check` says ok, and every id ever reported is present and opens.
// The store uses a keystore key file, so no round pays for Argon2id.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "doorstep/core/secret.h"
#include "doorstep/core/store.h"
#include "e2e/device_fixture.h"

namespace doorstep::e2e {
namespace {

constexpr int kRounds = 50;

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
    } else {
      result = sqlite3_errmsg(db);
    }
    sqlite3_finalize(st);
  } else {
    result = "cannot open: " + std::string(sqlite3_errmsg(db));
  }
  sqlite3_close(db);
  return result;
}

// Runs one crash-writer and SIGKILLs it `delay` after its first reported id
// (mid-write), or, when `from_start`, `delay` after spawning it (during
// start-up and unlock). Returns the ids it reported (complete lines only).
std::vector<std::string> KillRound(const std::vector<std::string>& args, const EnvChanges& env,
                                   std::chrono::milliseconds delay, bool from_start) {
  using Clock = std::chrono::steady_clock;
  int out_fd = -1, err_fd = -1;
  pid_t pid = Spawn(args, env, nullptr, &out_fd, &err_fd);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return {};
  std::string buf;
  const auto give_up = Clock::now() + std::chrono::seconds(5);  // never wait forever
  std::optional<Clock::time_point> deadline;
  if (from_start) deadline = Clock::now() + delay;
  while (Clock::now() < (deadline ? *deadline : give_up)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        (deadline ? *deadline : give_up) - Clock::now());
    pollfd p{out_fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    char tmp[4096];
    ssize_t n = read(out_fd, tmp, sizeof tmp);
    if (n <= 0) break;  // the writer exited (an error: reported below by the checks)
    buf.append(tmp, static_cast<size_t>(n));
    if (!deadline && buf.find('\n') != std::string::npos) deadline = Clock::now() + delay;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  char tmp[4096];
  for (ssize_t n; (n = read(out_fd, tmp, sizeof tmp)) > 0;) buf.append(tmp, static_cast<size_t>(n));
  close(out_fd);
  std::string err;
  for (ssize_t n; (n = read(err_fd, tmp, sizeof tmp)) > 0;) err.append(tmp, static_cast<size_t>(n));
  close(err_fd);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself: " << err;
  std::vector<std::string> ids;
  size_t start = 0;
  for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    ids.push_back(buf.substr(start, nl - start));
  }
  return ids;
}

TEST(CrashTest, SigkillNeverLosesACommittedRecord) {
  ASSERT_TRUE(Initialize().ok());
  TempDir dir;
  const std::string store = dir.File("crash.db");
  const std::string key_file = dir.File("keystore.key");
  WriteFile(key_file, std::string(64, '7'));
  const EnvChanges env = {{"DOORSTEP_PASSPHRASE", std::nullopt}};
  RunResult init = RunDoorstep({"device", "init", "--store", store, "--keystore-key-file", key_file}, env);
  ASSERT_EQ(init.exit_code, 0) << init.err;

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(5, 80);
  std::set<std::string> reported;
  SecretBytes key = SecretBytes::Copy(std::string(32, '\x77').data(), 32);
  core::KeySource source;
  source.keystore_key = &key;
  int rounds_with_writes = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Mostly mid-write; every fifth round during start-up and unlock.
    std::vector<std::string> ids =
        KillRound({"device", "crash-writer", "--store", store, "--keystore-key-file", key_file},
                  env, std::chrono::milliseconds(delay_ms(rng)), round % 5 == 4);
    if (!ids.empty()) ++rounds_with_writes;
    reported.insert(ids.begin(), ids.end());

    Result<std::unique_ptr<core::Store>> opened = core::Store::Open(store, RealEnv());
    ASSERT_TRUE(opened.ok()) << "round " << round << ": " << opened.status().ToString();
    ASSERT_TRUE((*opened)->Unlock(source).ok()) << "round " << round;
    for (const std::string& id : reported) {
      Result<core::Record> r = (*opened)->Get(id);
      ASSERT_TRUE(r.ok()) << "round " << round << ", id " << id << ": " << r.status().ToString();
    }
    opened->reset();
    ASSERT_EQ(IntegrityCheck(store), "ok") << "round " << round;
  }
  EXPECT_GE(rounds_with_writes, kRounds / 2) << "the writer rarely got to commit";
  EXPECT_GT(reported.size(), static_cast<size_t>(kRounds));
}

}  // namespace
}  // namespace doorstep::e2e
