// `doorstep sim`: device syncs with faults — through the FaultProxy in this
// process, or in a child process (`doorstep sim-sync-child`) that is killed
// with SIGKILL mid-sync and whose store is then reopened. Before every sync
// the device's pending mutations go into the ledger that check 2 of the
// oracle accounts for. See sim.h.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "doorstep/core/store_sync.h"
#include "sim.h"

extern char** environ;

namespace doorstep::cli {
namespace {

// Statuses a sync may end with when the network misbehaves: nothing lost,
// retry later (docs/sync.md).
bool ExpectedUnderFaults(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kAborted || code == StatusCode::kDataLoss;
}

}  // namespace

Status Sim::Snapshot(Device& d) {
  DS_ASSIGN_OR_RETURN(std::vector<core::OutgoingMutation> pending, core::PendingMutations(*d.store, 1u << 30));
  for (core::OutgoingMutation& m : pending) {
    if (ledger_.count(m.mutation_id) != 0) continue;
    LedgerEntry e;
    e.device = d.index;
    e.record_id = m.record.id;
    e.kind = m.kind;
    e.changes = std::move(m.changes);
    e.resolve = std::move(m.resolve);
    ledger_.emplace(m.mutation_id, std::move(e));
  }
  return Status::Ok();
}

void Sim::WaitIdle() { proxy_->WaitIdle(5000); }

size_t Sim::RouteSync() {
  size_t i = servers_.size() > 1 ? Next(servers_.size()) : 0;
  ++servers_[i].syncs;
  proxy_->SetTarget(servers_[i].port);
  return i;
}

Status Sim::ReopenStore(Device& d) {
  DS_ASSIGN_OR_RETURN(d.store, core::Store::Open(d.path, DeviceEnv(d)));
  return d.store->Unlock(core::KeySource{nullptr, &d.key});
}

Status Sim::SyncDevice(Device& d, bool faults, sync::SyncReport* out, bool* ok) {
  if (ok != nullptr) *ok = false;
  DS_RETURN_IF_ERROR(CheckServerProcesses());
  DS_RETURN_IF_ERROR(Snapshot(d));
  // Every draw is made whatever the outcome, so the seed fixes the sequence.
  const double roll = static_cast<double>(rng_.NextU64() >> 11) * 0x1.0p-53;
  FaultPlan plan;
  plan.to_server = Chance(0.5);
  plan.frame = Next(6);
  plan.cut_bytes = static_cast<uint32_t>(1 + Next(400));
  plan.delay_ms = static_cast<int>(20 + Next(180));
  bool kill = false, server_kill = false;
  if (faults) {
    double acc = 0;
    if (roll < (acc += o_.drop)) {
      plan.kind = FaultKind::kDrop;
    } else if (roll < (acc += o_.dup)) {
      plan.kind = FaultKind::kDup;
    } else if (roll < (acc += o_.cut)) {
      plan.kind = FaultKind::kCut;
    } else if (roll < (acc += o_.delay)) {
      plan.kind = FaultKind::kDelay;
    } else if (roll < (acc += o_.kill)) {
      kill = true;
    } else if (roll < (acc += o_.server_kill)) {
      server_kill = true;
    }
  }
  ++syncs_;
  const size_t server = RouteSync();
  if (kill) return KillSync(d, std::move(plan), ok);
  if (server_kill) return ServerKillSync(d, std::move(plan), server, ok);

  const FaultKind kind = plan.kind;
  bool injected = false;
  Result<sync::SyncReport> r = ProxiedSync(d, std::move(plan), &injected);
  if (injected) ++faults_[FaultKindName(kind)];
  Account(d, r, injected, FaultKindName(kind), out, ok);
  return Status::Ok();
}

Result<sync::SyncReport> Sim::ProxiedSync(Device& d, FaultPlan plan, bool* injected) {
  FaultProxy& proxy = *proxy_;
  const uint64_t before = proxy.injected();
  proxy.Arm(std::move(plan));
  sync::SyncOptions so;
  so.timeout_ms = 10000;
  Result<sync::SyncReport> r = sync::RunSync(*d.store, DeviceEnv(d), so);
  proxy.Disarm();
  WaitIdle();
  *injected = proxy.injected() > before;
  return r;
}

void Sim::Account(Device& d, const Result<sync::SyncReport>& r, bool injected, const char* kind,
                  sync::SyncReport* out, bool* ok) {
  if (r.ok()) {
    if (out != nullptr) *out = *r;
    if (ok != nullptr) *ok = true;
    return;
  }
  ++sync_failures_;
  ++sync_errors_[StatusCodeName(r.status().code())];
  if (!injected || !ExpectedUnderFaults(r.status().code())) {
    problems_.push_back("device " + std::to_string(d.index) + ": sync failed" +
                        (injected ? std::string(" under a ") + kind + " fault" : " with no fault") + ": " +
                        r.status().ToString());
  }
}

Status Sim::ServerKillSync(Device& d, FaultPlan plan, size_t index, bool* ok) {
  Server& s = servers_[index];
  const pid_t pid = s.pid;
  plan.kind = FaultKind::kTrigger;
  plan.on_trigger = [pid] { ::kill(pid, SIGKILL); };
  bool injected = false;
  Result<sync::SyncReport> r = ProxiedSync(d, std::move(plan), &injected);
  if (injected) {
    // Reap it (it was killed: exiting otherwise is the sim's error) and
    // start it again on the same server directory.
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (s.stdin_fd >= 0) ::close(s.stdin_fd);
    s.stdin_fd = -1;
    s.pid = -1;
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      return UnavailableError("server process " + std::to_string(index) + " (pid " + std::to_string(pid) +
                              ") ended before the server_kill fault");
    }
    ++server_kills_;
    ++faults_["server_kill"];
    DS_RETURN_IF_ERROR(StartServerProcess(static_cast<int>(index), server_dir_, &s)
                           .Annotate("restarting server process " + std::to_string(index) + " after a kill"));
  }
  Account(d, r, injected, "server_kill", nullptr, ok);
  return Status::Ok();
}

Status Sim::KillSync(Device& d, FaultPlan plan, bool* ok) {
  d.store.reset();  // the child owns the store while it runs
  auto pid = std::make_shared<std::atomic<pid_t>>(0);
  plan.kind = FaultKind::kTrigger;
  plan.on_trigger = [pid] {
    pid_t p = 0;
    while ((p = pid->load()) == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (p > 0) ::kill(p, SIGKILL);
  };
  FaultProxy& proxy = *proxy_;
  const uint64_t before = proxy.injected();
  proxy.Arm(std::move(plan));

  const std::string err_path = dir_ + "/child.err";
  const std::string now = std::to_string(clock_.NowMillis());
  std::vector<std::string> args = {o_.self_exe, "sim-sync-child", "--store", d.path, "--keystore-key-file",
                                   d.key_path, "--now-ms", now};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t child = 0;
  int rc = posix_spawn(&child, o_.self_exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid->store(-1);
    proxy.Disarm();
    return UnavailableError("cannot start " + o_.self_exe + ": " + std::strerror(rc));
  }
  pid->store(child);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  proxy.Disarm();
  WaitIdle();
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (proxy.injected() > before && killed) {
    ++kills_;
    ++faults_["kill"];
  }
  DS_RETURN_IF_ERROR(ReopenStore(d).Annotate("reopening device " + std::to_string(d.index) + " after a kill"));
  if (killed) {
    ++sync_failures_;
    ++sync_errors_["killed"];
    return Status::Ok();
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0) {
    if (ok != nullptr) *ok = true;
    return Status::Ok();
  }
  ++sync_failures_;
  ++sync_errors_["child_exit_" + std::to_string(code)];
  std::ifstream in(err_path);
  std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!err.empty() && err.back() == '\n') err.pop_back();
  problems_.push_back("device " + std::to_string(d.index) + ": child sync exited " + std::to_string(code) + ": " +
                      err);
  return Status::Ok();
}

}  // namespace doorstep::cli
