// `doorstep sim`: a whole system on this machine under random work and
// faults, checked by an oracle at the end (issue 6, docs/sim.md).
//
// A Sim owns a temporary directory, a server store (SQLite in the directory,
// or PostgreSQL with `postgres`), one or more in-process sync servers behind
// one FaultProxy on 127.0.0.1 that routes each sync to a random server, and
// N device stores for practitioners with overlapping caseloads and
// different roles. Step() performs one random operation (add, field edit,
// narrative line edit, finalise, amend, conflict resolution, case transfer,
// the revocation) and sometimes a sync of a random device with a random
// fault (drop, duplicate frame, cut mid-message, delay, or SIGKILL of a child
// process syncing the device's store). Quiesce() syncs every device until a
// whole round moves nothing; Check() is the oracle (sim_oracle.cc).
//
// Every decision comes from one SeededRandom and a FakeClock, and each device
// store has its own SeededRandom, so a seed fixes the operations and the
// faults. (Where a killed process stopped depends on timing.)
//
// With SQLite the servers run in this process and share the one store
// object. With PostgreSQL each server is a separate process
// (`doorstep sim-server-child`, sim_servers.cc) that opens the server
// directory the sim initialised (`server init --postgres` code path) and
// reads the sim's time from a SharedClock file; the sim's admin work and
// oracle use a store of their own.
//
// Ownership: a Sim owns everything it creates and removes the directory on
// destruction unless `keep_dir` was given. Thread safety: one thread.
#ifndef DOORSTEP_CLI_SIM_H_
#define DOORSTEP_CLI_SIM_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/core/store.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"
#include "fault_proxy.h"
#include "shared_clock.h"

namespace doorstep::cli {

struct SimOptions {
  int devices = 5;
  int64_t ops = 300;
  uint64_t seed = 1;
  // Per sync: probability of each fault (their sum is at most 1).
  // server_kill: SIGKILL of the server process serving the sync (PostgreSQL
  // only: servers are processes), which is then restarted.
  double drop = 0, dup = 0, cut = 0, delay = 0, kill = 0, server_kill = 0;
  int servers = 1;
  std::string postgres;   // libpq conninfo: server store in PostgreSQL (an empty database or schema)
  std::string keep_dir;   // keep files here (default: a temporary dir, removed)
  std::string self_exe;   // this binary, for the killed child syncs
  bool verbose = false;   // progress on stderr
};

// The oracle's findings and the run's figures (`--json` prints them).
struct SimReport {
  bool quiet = false;          // the final sync rounds reached a round that moved nothing
  bool converged = false;      // quiet, and checks 1, 3 and 4 hold
  int64_t lost = 0;            // acknowledged operations found nowhere on the server
  int64_t conflicts_open = 0;  // open conflicts on the server at the end
  int64_t ops = 0, syncs = 0, sync_failures = 0, faults_injected = 0, kills = 0;
  int64_t server_kills = 0;    // server processes killed mid-sync and restarted
  int64_t refused_local = 0;   // writes the device's validation refused (never acknowledged)
  int64_t mutations = 0;       // distinct acknowledged mutations checked
  int64_t applied = 0, merged = 0, conflicted = 0, rejected = 0;
  int64_t kept_rejected = 0;   // records a device keeps for a change the server refused
  int64_t transfers = 0, revocations = 0, resolutions = 0;
  int64_t records_checked = 0;
  int64_t unexpected_rejections = 0;  // refused for a reason the sim never provokes
  int64_t anomalies = 0;       // sync failures with no fault to explain them, etc.
  bool check_same = false, check_scoped = false, check_audit = false;  // checks 1, 3, 4
  std::map<std::string, int64_t> faults;      // by kind, injected
  std::map<std::string, int64_t> sync_errors; // by status code name, under faults
  std::vector<int64_t> server_syncs;          // syncs routed to each server
  std::vector<int64_t> server_pids;           // PostgreSQL: every server process started, restarts included
  std::string backend;                        // "sqlite" | "postgres"
  std::vector<std::string> problems;          // first findings, for people
  double seconds = 0;
  uint64_t seed = 0;
  nlohmann::json ToJson() const;
};

// Runs a whole simulation. kInvalidArgument for bad options; with
// `postgres`, OpenPgServerStore's errors (kFailedPrecondition if the
// database already holds a store, kUnavailable if it cannot be reached).
Result<SimReport> RunSim(const SimOptions& options);

// The hidden `doorstep sim-server-child --dir DIR --clock-file PATH`: opens
// the server directory DIR with the clock in PATH, serves on 127.0.0.1 (any
// free port), prints the port on one line, and serves until SIGTERM/SIGINT
// or end of standard input. Returns the exit code.
int RunSimServerChild(const std::string& dir, const std::string& clock_file);

// One acknowledged mutation, as the device froze it (the ledger of check 2).
struct LedgerEntry {
  int device = 0;
  std::string record_id, kind;
  nlohmann::json changes;  // {field: {from, to}}
  nlohmann::json resolve;  // {conflict_id, path, value}
};

class Sim {
 public:
  explicit Sim(SimOptions options);
  ~Sim();
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;

  Status Setup();
  Status Step(int64_t index);
  Status Quiesce(SimReport* report);
  Status Check(SimReport* report);  // sim_oracle.cc
  void Fill(SimReport* report) const;
  int64_t ops_done() const { return ops_done_; }
  // kUnavailable naming the first server process that has exited
  // (sim_servers.cc; Ok with in-process servers).
  Status CheckServerProcesses();

 private:
  struct Device {
    int index = 0;
    std::string practitioner, role, path, key_path, device_id;
    SecretBytes key;
    std::unique_ptr<SeededRandom> random;
    std::unique_ptr<core::Store> store;
    bool revoked = false;
  };
  struct Server {
    std::unique_ptr<sync::ServerCore> core;      // in-process (SQLite)
    std::unique_ptr<sync::SyncServer> server;    // in-process (SQLite)
    pid_t pid = -1;                              // a process (PostgreSQL), until reaped
    int stdin_fd = -1;                           // its standard input: closing it stops it
    std::string err_path;                        // its standard error
    uint16_t port = 0;
    int64_t syncs = 0;
  };

  uint64_t Next(uint64_t n) { return n == 0 ? 0 : rng_.NextU64() % n; }
  bool Chance(double p) { return static_cast<double>(rng_.NextU64() >> 11) * 0x1.0p-53 < p; }
  Env DeviceEnv(Device& d) { return Env{&clock_, d.random.get(), &logger_}; }
  sync::ServerCore& Admin() { return *admin_; }
  void AdvanceClock(int64_t ms) {
    clock_.AdvanceMillis(ms);
    if (shared_clock_ != nullptr) shared_clock_->Set(clock_.NowMillis());
  }
  // sim_servers.cc: server `index` as a process on the initialised server
  // dir; kUnavailable if it cannot start or reports no port.
  Status StartServerProcess(int index, const std::string& server_dir, Server* s);
  // Stops every server process (end of input, SIGTERM, SIGKILL after 5 s).
  void StopServerProcesses();
  // Points the proxy at a random server for the next sync (no draw with
  // one); returns its index.
  size_t RouteSync();

  // sim_ops.cc
  Status AddRecord(Device& d);
  Status EditRecord(Device& d, int what);  // 0 fields, 1 lines, 2 finalise, 3 amend
  Status Resolve(Device& d);
  Status Transfer();
  Status Revoke();
  Result<bool> Write(Device& d, const std::string& id, const nlohmann::json& changes,
                     std::optional<std::string> status);
  // sim_sync.cc
  // Syncs `d`, with a random fault when `faults`. Network failures are
  // counted, not returned (*ok tells); errors are for the sim itself.
  Status SyncDevice(Device& d, bool faults, sync::SyncReport* out = nullptr, bool* ok = nullptr);
  // Syncs `d` in a child process killed with SIGKILL where `plan` says.
  Status KillSync(Device& d, FaultPlan plan, bool* ok);
  // Syncs `d` with server process `index` killed with SIGKILL where `plan`
  // says, then starts that server again.
  Status ServerKillSync(Device& d, FaultPlan plan, size_t index, bool* ok);
  // One in-process sync of `d` through the proxy armed with `plan`;
  // *injected tells whether the fault happened.
  Result<sync::SyncReport> ProxiedSync(Device& d, FaultPlan plan, bool* injected);
  // Accounts for a finished in-process sync of `d` (fault `kind` injected or
  // not): failures are counted, and unexplained ones become problems.
  void Account(Device& d, const Result<sync::SyncReport>& r, bool injected, const char* kind,
               sync::SyncReport* out, bool* ok);
  // Waits until no proxy connection is open (so the server has seen all).
  void WaitIdle();
  Status ReopenStore(Device& d);
  Status Snapshot(Device& d);
  Device* RandomDevice();

  SimOptions o_;
  SeededRandom rng_;
  FakeClock clock_;
  std::unique_ptr<SharedClock> shared_clock_;  // PostgreSQL: clock_ for the server processes
  NullLogger logger_;
  Env server_env_;
  std::string dir_;
  bool remove_dir_ = false;
  std::unique_ptr<sync::ServerStore> server_store_;  // admin and oracle
  std::unique_ptr<sync::ServerCore> admin_;
  std::vector<Server> servers_;
  std::string server_dir_;
  std::vector<int64_t> server_pids_;  // every server process started
  int64_t server_kills_ = 0;
  std::unique_ptr<FaultProxy> proxy_;  // in front of every server
  std::string server_key_hex_;
  std::vector<Device> devices_;
  std::vector<std::string> subjects_;
  std::map<std::string, std::set<std::string>> caseload_;  // mirror of the server's
  std::map<std::string, LedgerEntry> ledger_;
  std::vector<std::string> revoked_paths_;
  int64_t ops_done_ = 0, syncs_ = 0, sync_failures_ = 0, kills_ = 0, refused_local_ = 0;
  int64_t transfers_ = 0, revocations_ = 0, resolutions_ = 0;
  int64_t revoke_at_ = -1;
  std::map<std::string, int64_t> sync_errors_;
  std::map<std::string, int64_t> faults_;
  std::vector<std::string> problems_;
};

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_SIM_H_
