// `doorstep server …` end to end through the built binary (DOORSTEP_BIN).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "e2e/server_run.h"

namespace {

using json = nlohmann::json;

struct Ran {
  int code = -1;
  std::string out;
};

std::string Bin() {
  const char* b = std::getenv("DOORSTEP_BIN");
  return b ? b : "doorstep";
}

// Runs `doorstep args`; `out` gets stdout, or stdout and stderr with `both`.
Ran RunCli(const std::string& args, bool both = false) {
  Ran r;
  std::string cmd = Bin() + " " + args + (both ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class ServerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ds_cli_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/srv";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string root_, dir_;
};

TEST_F(ServerCliTest, InitEnrollAssignAuditAndTamper) {
  Ran init = RunCli("server init --dir " + dir_);
  ASSERT_EQ(init.code, 0);
  EXPECT_EQ(init.out.size(), 65u);  // 64 hex + newline
  EXPECT_EQ(RunCli("server init --dir " + dir_).code, 2);
  EXPECT_EQ(RunCli("server init --dir " + root_ + "/pg --postgres no_such_option=x").code, 2);  // bad conninfo
  Ran code = RunCli("server enroll --dir " + dir_ + " --practitioner worker-1 --role social_worker");
  ASSERT_EQ(code.code, 0);
  EXPECT_EQ(code.out.size(), 20u);  // XXXX-XXXX-XXXX-XXXX + newline
  EXPECT_EQ(RunCli("server enroll --dir " + dir_ + " --practitioner worker-1 --role cook").code, 2);
  EXPECT_EQ(RunCli("server assign --dir " + dir_ + " --practitioner worker-1 --subject S-1").code, 0);
  EXPECT_EQ(RunCli("server unassign --dir " + dir_ + " --practitioner worker-1 --subject S-2").code, 5);
  EXPECT_EQ(RunCli("server revoke --dir " + dir_ + " --device " + std::string(32, 'a')).code, 5);
  EXPECT_EQ(RunCli("server devices --dir " + dir_ + " --json").out, "[]\n");
  EXPECT_EQ(RunCli("server conflicts --dir " + dir_ + " --json").out, "[]\n");
  Ran verify = RunCli("server audit --dir " + dir_ + " --verify --json");
  EXPECT_EQ(verify.code, 0);
  EXPECT_NE(verify.out.find("\"entries\":2"), std::string::npos);
  // The last entry as an anchor (ID:HASH) checks out; a later one is missing;
  // a malformed anchor is a usage error.
  json head = json::parse(verify.out, nullptr, false);
  ASSERT_TRUE(head.is_object() && head.contains("last_hash") && head["last_id"] == 2) << verify.out;
  const std::string hash = head["last_hash"].get<std::string>();
  Ran anchored = RunCli("server audit --dir " + dir_ + " --anchor 2:" + hash);
  EXPECT_EQ(anchored.code, 0);
  EXPECT_NE(anchored.out.find("last 2:" + hash), std::string::npos) << anchored.out;
  Ran beyond = RunCli("server audit --dir " + dir_ + " --anchor 3:" + hash, true);
  EXPECT_EQ(beyond.code, 8);
  EXPECT_NE(beyond.out.find("removed from the end"), std::string::npos) << beyond.out;
  for (const std::string& bad : {std::string("2"), "0:" + hash, "x:" + hash, "2:" + hash.substr(1), "2:" + std::string(64, 'G')}) {
    Ran r = RunCli("server audit --dir " + dir_ + " --anchor '" + bad + "'", true);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.out.find("--anchor must be ID:HASH"), std::string::npos) << r.out;
  }

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/server.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER audit_no_update;"
                         "UPDATE audit SET actor = 'someone' WHERE id = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(RunCli("server audit --dir " + dir_ + " --verify").code, 8);
  EXPECT_EQ(RunCli("server devices --dir " + root_ + "/none").code, 5);
}

TEST_F(ServerCliTest, RunServesAndStopsOnSigterm) {
  ASSERT_EQ(RunCli("server init --dir " + dir_).code, 0);
  doorstep::e2e::ServerRun server;
  ASSERT_TRUE(server.Start(dir_, root_ + "/run.out"));
  EXPECT_NE(server.Port(), 0) << server.Output();
  // Admin commands work while the server runs on the same dir.
  EXPECT_EQ(RunCli("server enroll --dir " + dir_ + " --practitioner m-1 --role manager").code, 0);
  EXPECT_EQ(RunCli("server assign --dir " + dir_ + " --practitioner m-1 --subject S-1").code, 0);
  EXPECT_EQ(server.Stop(), 0) << server.Output();
}

}  // namespace
