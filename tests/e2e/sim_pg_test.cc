// `doorstep sim --servers 2 --postgres …` through the built binary (issue 7):
// two sync server processes (`sim-server-child`), each with its own
// PostgreSQL connections on one database, devices routed to either at random
// per sync, every fault kind.
// The oracle must find the devices converged, nothing lost and the audit
// chain verified. Each run gets a fresh schema in the test cluster
// (pg_e2e_util.h); skipped only when DOORSTEP_PG is off.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_util.h"
#include "pg_e2e_util.h"
#include "sync/pg_test_util.h"

namespace doorstep::e2e {
namespace {

using json = nlohmann::json;
namespace pgt = doorstep::sync::testing;

class SimPgTest : public PgSchemaTest {};

// The sim's JSON report, checked: exit 0, converged, nothing lost, audit
// chain verified.
json ConvergedReport(const RunResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.out << r.err;
  if (!j.is_object()) return json::object();
  EXPECT_EQ(r.exit_code, 0) << j.dump(1) << r.err;
  EXPECT_EQ(j.value("converged", false), true) << j.dump(1);
  EXPECT_EQ(j.value("lost", -1), 0) << j.dump(1);
  EXPECT_EQ(j["checks"].value("audit", false), true) << j.dump(1);
  return j;
}

TEST_F(SimPgTest, TwoServersOnOneDatabaseConvergeUnderFaults) {
  RunResult r = RunDoorstep({"sim", "--devices", "4", "--ops", "150", "--seed", "3", "--servers", "2", "--postgres",
                             conninfo_, "--faults", "drop=0.06,dup=0.06,cut=0.06,delay=0.04,kill=0.06", "--json"},
                            {});
  json j = ConvergedReport(r);
  ASSERT_TRUE(j.is_object() && !j.empty());
  EXPECT_EQ(j.value("backend", ""), "postgres");
  EXPECT_GT(j.value("mutations", 0), 50);
  EXPECT_GT(j.value("faults_injected", 0), 2);
  // Both servers served syncs, and they were two processes of their own.
  ASSERT_TRUE(j["server_syncs"].is_array() && j["server_syncs"].size() == 2) << j.dump(1);
  EXPECT_GT(j["server_syncs"][0].get<int64_t>(), 5);
  EXPECT_GT(j["server_syncs"][1].get<int64_t>(), 5);
  ASSERT_TRUE(j["server_pids"].is_array() && j["server_pids"].size() == 2) << j.dump(1);
  ASSERT_TRUE(j["server_pids"][0].is_number_integer() && j["server_pids"][1].is_number_integer()) << j.dump(1);
  const int64_t pid0 = j["server_pids"][0].get<int64_t>(), pid1 = j["server_pids"][1].get<int64_t>();
  EXPECT_GT(pid0, 0);
  EXPECT_GT(pid1, 0);
  EXPECT_NE(pid0, pid1);
  EXPECT_NE(pid0, static_cast<int64_t>(::getpid()));
  // They are gone once the sim has ended (no orphans).
  EXPECT_NE(::kill(static_cast<pid_t>(pid0), 0), 0);
  EXPECT_NE(::kill(static_cast<pid_t>(pid1), 0), 0);
  // The data is in the database: the store's audit chain and revisions.
  EXPECT_FALSE(pgt::PgColumn(conninfo_, "SELECT count(*)::text FROM revisions").empty());
  EXPECT_NE(pgt::PgColumn(conninfo_, "SELECT count(*)::text FROM revisions"), std::vector<std::string>{"0"});
}

// server_kill: the server process a sync went to is SIGKILLed mid-session
// (after a random frame) and started again. Nothing acknowledged is lost and
// every process the sim started is gone at the end.
TEST_F(SimPgTest, ServerProcessesKilledMidSyncLoseNothing) {
  RunResult r = RunDoorstep({"sim", "--devices", "4", "--ops", "150", "--seed", "5", "--servers", "2", "--postgres",
                             conninfo_, "--faults", "server_kill=0.2,cut=0.05", "--json"},
                            {});
  json j = ConvergedReport(r);
  ASSERT_TRUE(j.is_object() && !j.empty());
  const int64_t kills = j.value("server_kills", 0);
  EXPECT_GE(kills, 2) << j.dump(1);
  EXPECT_EQ(j["faults"].value("server_kill", 0), kills) << j.dump(1);
  // Two to begin with, one more per kill; none left running.
  ASSERT_TRUE(j["server_pids"].is_array()) << j.dump(1);
  EXPECT_EQ(static_cast<int64_t>(j["server_pids"].size()), 2 + kills) << j.dump(1);
  for (const json& pid : j["server_pids"]) {
    ASSERT_TRUE(pid.is_number_integer() && pid.get<int64_t>() > 0) << j.dump(1);
    EXPECT_NE(::kill(static_cast<pid_t>(pid.get<int64_t>()), 0), 0) << pid;
  }
}

TEST_F(SimPgTest, ServerKillNeedsServerProcesses) {
  RunResult r = RunDoorstep({"sim", "--devices", "2", "--ops", "5", "--faults", "server_kill=0.1"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("server_kill needs --postgres"), std::string::npos) << r.err;
}

TEST_F(SimPgTest, DatabaseThatHoldsAStoreIsRefused) {
  RunResult first = RunDoorstep({"sim", "--devices", "2", "--ops", "5", "--postgres", conninfo_, "--json"}, {});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  RunResult again = RunDoorstep({"sim", "--devices", "2", "--ops", "5", "--postgres", conninfo_, "--json"}, {});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("empty database"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace doorstep::e2e
