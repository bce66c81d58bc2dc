// `doorstep device sync` shows a carriage-return progress line (phase and
// counts) on a terminal, and none when its output is piped or with --json.
// The terminal is a pseudo-terminal (forkpty); the server is a real
// SyncServer on 127.0.0.1 in this process; the device is the CLI.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"
#include "e2e/e2e_util.h"
#include "e2e/live_server.h"

namespace doorstep::e2e {
namespace {

constexpr char kPass[] = "progress test passphrase";

// Runs DOORSTEP_BIN with `args` on a new pseudo-terminal (stdin, stdout and
// stderr all on it); returns everything it wrote and sets *exit_code.
std::string RunOnPty(const std::vector<std::string>& args, int* exit_code) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return "forkpty failed";
  if (pid == 0) {
    setenv("DOORSTEP_PASSPHRASE", kPass, 1);
    std::string bin = DoorstepBin();
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        pid = -1;
        break;
      }
      continue;
    }
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has closed the terminal
    out.append(buf, static_cast<size_t>(n));
  }
  if (pid > 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  close(master);
  return out;
}

class SyncProgressCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    env_ = RealEnv();
    ASSERT_NO_FATAL_FAILURE(live_.Start(dir_.path(), env_));
    sync::ServerCore& core = live_.core();

    store_ = dir_.File("phone.db");
    EnvChanges env{{"DOORSTEP_PASSPHRASE", kPass}};
    RunResult init = RunDoorstep({"device", "init", "--store", store_, "--kdf", "interactive"}, env);
    ASSERT_EQ(init.exit_code, 0) << init.err;
    auto code = core.Enroll("worker-1", "social_worker");
    ASSERT_TRUE(code.ok());
    Status assigned = core.Assign("worker-1", "child-a");
    ASSERT_TRUE(assigned.ok()) << assigned.ToString();
    RunResult enrol = RunDoorstep({"device", "enroll", "--store", store_, "--server",
                                   live_.address(), "--server-key", live_.key_hex(), "--code", code->code},
                                  env);
    ASSERT_EQ(enrol.exit_code, 0) << enrol.err;
    std::string fields = dir_.File("fields.json");
    WriteFile(fields, core::SampleFields("visit_note", env_.clock->NowMillis()).dump());
    for (int i = 0; i < 3; ++i) {
      RunResult add = RunDoorstep({"device", "add", "--store", store_, "--type", "visit_note",
                                   "--subject", "child-a", "--status", "final", "--fields", fields},
                                  env);
      ASSERT_EQ(add.exit_code, 0) << add.err;
    }
  }
  void TearDown() override { live_.Stop(); }

  TempDir dir_;
  Env env_;
  LiveServer live_;
  std::string store_;
};

TEST_F(SyncProgressCliTest, ProgressLineOnATerminalOnly) {
  int code = -1;
  std::string tty = RunOnPty({"device", "sync", "--store", store_}, &code);
  ASSERT_EQ(code, 0) << tty;
  // Carriage-return lines with the phase and counts: the 3 records pushed.
  EXPECT_NE(tty.find("\rsync push    3/3"), std::string::npos) << tty;
  EXPECT_NE(tty.find("\rsync pull"), std::string::npos) << tty;
  EXPECT_NE(tty.find("synced: pushed 3"), std::string::npos) << tty;

  // --json on a terminal: one JSON document, no progress line.
  std::string json_tty = RunOnPty({"device", "sync", "--store", store_, "--json"}, &code);
  ASSERT_EQ(code, 0) << json_tty;
  EXPECT_EQ(json_tty.find('\r' + std::string("sync ")), std::string::npos) << json_tty;
  EXPECT_NE(json_tty.find("\"pushed\""), std::string::npos) << json_tty;

  // Piped: no progress line on either stream.
  RunResult piped = RunDoorstep({"device", "sync", "--store", store_}, {{"DOORSTEP_PASSPHRASE", kPass}});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  EXPECT_EQ(piped.out.find('\r'), std::string::npos) << piped.out;
  EXPECT_NE(piped.out.find("synced: pushed 0"), std::string::npos) << piped.out;
}

}  // namespace
}  // namespace doorstep::e2e
