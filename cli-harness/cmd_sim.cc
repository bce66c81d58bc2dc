// `doorstep sim --devices N --ops N --seed N [--faults drop=P,dup=P,cut=P,
// delay=P,kill=P,server_kill=P] [--servers N] [--postgres CONNINFO] [--json]`, and the
// hidden `doorstep sim-sync-child` that a sim runs (and kills) to sync one
// device's store in another process, and the hidden `sim-server-child` (a
// sim's sync server as a process with --postgres, sim_servers.cc). See sim.h and docs/sim.md.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "cli.h"
#include "commands.h"
#include "doorstep/sync/client.h"
#include "passphrase.h"
#include "sim.h"

namespace doorstep::cli {
namespace {

struct SimArgs {
  SimOptions sim;
  std::string faults;
  bool json = false;
};

// "drop=0.05,dup=0.05" → the options; exit 2 with a message naming the part.
int ParseFaults(const std::string& spec, SimOptions* o) {
  std::stringstream in(spec);
  double total = 0;
  for (std::string part; std::getline(in, part, ',');) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string name = part.substr(0, eq);
    char* end = nullptr;
    double p = eq == std::string::npos ? -1 : std::strtod(part.c_str() + eq + 1, &end);
    if (eq == std::string::npos || end == nullptr || *end != '\0' || !(p >= 0 && p <= 1)) {
      return Fail(kExitUsage, "--faults: '" + part + "' must be NAME=P with P between 0 and 1");
    }
    if (name == "drop") {
      o->drop = p;
    } else if (name == "dup") {
      o->dup = p;
    } else if (name == "cut") {
      o->cut = p;
    } else if (name == "delay") {
      o->delay = p;
    } else if (name == "kill") {
      o->kill = p;
    } else if (name == "server_kill") {
      o->server_kill = p;
    } else {
      return Fail(kExitUsage,
                  "--faults: unknown fault '" + name + "' (drop, dup, cut, delay, kill, server_kill)");
    }
    total += p;
  }
  if (total > 1) return Fail(kExitUsage, "--faults: the probabilities add up to more than 1");
  return kExitOk;
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

int RunSimCommand(SimArgs& a) {
  if (int rc = ParseFaults(a.faults, &a.sim); rc != kExitOk) return rc;
  if (a.sim.devices < 1 || a.sim.devices > 1000) return Fail(kExitUsage, "--devices must be 1-1000");
  if (a.sim.servers < 1 || a.sim.servers > 16) return Fail(kExitUsage, "--servers must be 1-16");
  if (a.sim.ops < 0) return Fail(kExitUsage, "--ops must not be negative");
  if (a.sim.server_kill > 0 && a.sim.postgres.empty()) {
    return Fail(kExitUsage,
                "--faults server_kill needs --postgres (only then are the servers processes; the SQLite "
                "server's crash test is `ServerCrashTest`)");
  }
  a.sim.self_exe = SelfExe();
  if (a.sim.self_exe.empty()) return Fail(kExitInternal, "cannot find this program's path (/proc/self/exe)");
  Result<SimReport> r = RunSim(a.sim);
  if (!r.ok()) return Fail(r.status().Annotate("sim failed"));
  const SimReport& rep = *r;
  if (a.json) {
    std::printf("%s\n", rep.ToJson().dump().c_str());
  } else {
    std::printf("sim seed %llu: %d devices, %lld operations, %lld syncs (%lld failed), %lld faults injected, "
                "%lld kills, %lld server kills\n",
                static_cast<unsigned long long>(rep.seed), a.sim.devices, static_cast<long long>(rep.ops),
                static_cast<long long>(rep.syncs), static_cast<long long>(rep.sync_failures),
                static_cast<long long>(rep.faults_injected), static_cast<long long>(rep.kills),
                static_cast<long long>(rep.server_kills));
    std::printf("mutations %lld: %lld applied, %lld merged, %lld conflict, %lld rejected; lost %lld\n",
                static_cast<long long>(rep.mutations), static_cast<long long>(rep.applied),
                static_cast<long long>(rep.merged), static_cast<long long>(rep.conflicted),
                static_cast<long long>(rep.rejected), static_cast<long long>(rep.lost));
    std::printf("open conflicts %lld; %s in %.1f s\n", static_cast<long long>(rep.conflicts_open),
                rep.converged ? "converged" : "NOT CONVERGED", rep.seconds);
    if (rep.server_syncs.size() > 1) {
      std::printf("%s store; syncs per server:", rep.backend.c_str());
      for (int64_t n : rep.server_syncs) std::printf(" %lld", static_cast<long long>(n));
      std::printf("\n");
    }
    for (const std::string& p : rep.problems) std::printf("  problem: %s\n", p.c_str());
  }
  bool good = rep.converged && rep.lost == 0 && rep.unexpected_rejections == 0 && rep.anomalies == 0;
  return good ? kExitOk : kExitInternal;
}

struct ChildArgs {
  std::string store, key_file;
  int64_t now_ms = 0;
};

// Opens the store with its keystore key file and syncs it once, with a clock
// set to the sim's time. The sim kills it with SIGKILL mid-sync.
int RunSimChild(const ChildArgs& a) {
  SecretBytes key;
  if (int rc = ReadKeyFile(a.key_file, &key); rc != kExitOk) return rc;
  FakeClock clock(a.now_ms);
  NullLogger logger;
  Env env{&clock, RealEnv().random, &logger};
  Result<std::unique_ptr<core::Store>> store = core::Store::Open(a.store, env);
  if (!store.ok()) return Fail(store.status());
  if (Status s = (*store)->Unlock(core::KeySource{nullptr, &key}); !s.ok()) return Fail(s);
  sync::SyncOptions so;
  so.timeout_ms = 10000;
  Result<sync::SyncReport> r = sync::RunSync(**store, env, so);
  if (!r.ok()) return Fail(r.status());
  return kExitOk;
}

}  // namespace

void RegisterSimCommands(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<SimArgs>();
  auto* sim = app.add_subcommand(
      "sim", "Many devices, random offline work and a faulty network against a real server; checks convergence");
  sim->add_option("--devices", a->sim.devices, "Number of devices (default 5)");
  sim->add_option("--ops", a->sim.ops, "Number of operations (default 300)");
  sim->add_option("--seed", a->sim.seed, "Seed: the same seed gives the same operations and faults (default 1)");
  sim->add_option("--faults", a->faults, "Fault probabilities per sync: drop=P,dup=P,cut=P,delay=P,kill=P,server_kill=P (server_kill: with --postgres)");
  sim->add_option("--servers", a->sim.servers, "Sync servers on one server store; each sync goes to one at random (default 1)");
  sim->add_option("--postgres", a->sim.postgres, "Server store in PostgreSQL (libpq conninfo of an empty database or schema); "
                  "each server is then a separate process with its own connections, on the sim's clock");
  sim->add_option("--keep", a->sim.keep_dir, "Keep the server and device files in this directory");
  sim->add_flag("--json", a->json, "Print one JSON object");
  sim->add_flag("--verbose", a->sim.verbose, "Progress on standard error");
  sim->callback([a, exit_code] { *exit_code = RunSimCommand(*a); });

  auto c = std::make_shared<ChildArgs>();
  auto* child = app.add_subcommand("sim-sync-child", "Test helper: one sync of a sim device's store");
  child->group("");  // hidden from --help
  child->add_option("--store", c->store)->required();
  child->add_option("--keystore-key-file", c->key_file)->required();
  child->add_option("--now-ms", c->now_ms)->required();
  child->callback([c, exit_code] { *exit_code = RunSimChild(*c); });

  auto sc = std::make_shared<std::pair<std::string, std::string>>();
  auto* server_child = app.add_subcommand("sim-server-child", "Test helper: a sim's sync server as a process");
  server_child->group("");  // hidden from --help
  server_child->add_option("--dir", sc->first)->required();
  server_child->add_option("--clock-file", sc->second)->required();
  server_child->callback([sc, exit_code] { *exit_code = RunSimServerChild(sc->first, sc->second); });
}

}  // namespace doorstep::cli
