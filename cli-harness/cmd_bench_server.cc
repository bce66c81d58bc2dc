// `doorstep bench server [--devices N] [--records N] [--pulls N]
// [--postgres CONNINFO] [--json]`: the sync server under load. A fresh server
// directory is set up in-process (one practitioner, device and subject per
// simulated device; with --postgres the store goes in that database), then the
// server runs as a separate `doorstep server run` process so that its memory
// is measurable (/proc/PID/status). Phase 1: all devices at once each open a
// session and push --records new records. Then (not timed) another
// practitioner's device adds --pulls records to every device's subject.
// Phase 2: all devices at once each open a session and pull what changed
// since phase 1 — exactly the --pulls records made by the other device.
// Latencies are per session, from TCP connect (Noise handshake included) to
// the last answer. Device sessions are threads of this process, sharing the
// machine's cores with the server: one thread per device, made once and
// used by both phases (bench_fleet.h).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_fleet.h"
#include "bench_util.h"
#include "cli.h"
#include "commands.h"
#include "doorstep/core/crypto.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/samples.h"
#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/protocol.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_dir.h"

namespace doorstep::cli {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

struct BenchServerArgs {
  int devices = 200;
  int records = 50;
  int pulls = 20;
  std::string postgres;  // libpq conninfo of an empty database or schema
  bool json = false;
};

struct BenchDevice {
  std::string id;
  std::string practitioner;
  std::string subject;
  sync::KeyPair keys;
  std::vector<sync::Mutation> push;
};

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A mutation creating a new visit note (sample content) by `d` on `subject`.
sync::Mutation NewRecord(const BenchDevice& d, const std::string& subject, int64_t now,
                         uint32_t counter, Random& random) {
  std::string id(16, '\0');
  random.Fill(id.data(), id.size());
  std::string mid(16, '\0');
  random.Fill(mid.data(), mid.size());
  sync::Mutation m;
  m.mutation_id = core::ToHex(mid);
  m.record_id = core::ToHex(id);
  m.type = "visit_note";
  m.subject_id = subject;
  m.hlc = core::HlcStamp{now, counter, d.id}.Encode();
  m.created_at = m.updated_at = now;
  m.author_id = d.practitioner;
  m.device_id = d.id;
  const json fields = core::SampleFields("visit_note", now);
  for (const auto& [k, v] : fields.items()) m.changes[k] = {nullptr, v};
  return m;
}

// Enrols a device for a new practitioner (in-process, before the server runs).
Result<BenchDevice> MakeDevice(sync::ServerCore& core, const std::string& practitioner, Random& random) {
  BenchDevice d;
  d.practitioner = practitioner;
  d.keys = sync::GenerateKeyPair(random);
  std::string id(16, '\0');
  random.Fill(id.data(), id.size());
  d.id = core::ToHex(id);
  DS_ASSIGN_OR_RETURN(sync::IssuedCode code, core.Enroll(practitioner, "social_worker"));
  DS_RETURN_IF_ERROR(core.RedeemCode(code.code, d.id, d.keys.public_key, "bench").status());
  return d;
}

template <typename T>
Result<T> Call(sync::ClientChannel& ch, const sync::Message& m) {
  DS_RETURN_IF_ERROR(ch.Send(sync::Encode(m)));
  DS_ASSIGN_OR_RETURN(std::string bytes, ch.Receive());
  return sync::DecodeAs<T>(bytes);
}

struct Target {
  uint16_t port;
  std::string server_key;
  Random* random;
};

Result<std::unique_ptr<sync::ClientChannel>> Open(const Target& t, const BenchDevice& d) {
  return sync::ClientChannel::Connect("127.0.0.1", t.port, d.keys.Clone(), t.server_key, "", *t.random);
}

// One push session: hello, push, bye. Ok once every mutation is applied.
Status PushSession(const Target& t, const BenchDevice& d, const std::vector<sync::Mutation>& m) {
  DS_ASSIGN_OR_RETURN(auto ch, Open(t, d));
  sync::Hello h;
  h.pending = m.size();
  DS_RETURN_IF_ERROR(Call<sync::Welcome>(*ch, h).status());
  DS_ASSIGN_OR_RETURN(sync::Pushed r, Call<sync::Pushed>(*ch, sync::Push{m}));
  for (const auto& res : r.r) {
    if (res.outcome != sync::Outcome::kApplied) return InternalError("push not applied: " + res.reason);
  }
  if (r.r.size() != m.size()) return InternalError("push: wrong number of results");
  (void)ch->Send(sync::Encode(sync::Bye{}));
  return Status();
}

// One pull session from `since` (hello with pull, then pulls while more).
// Returns the number of records and sets *checkpoint.
Result<size_t> PullSession(const Target& t, const BenchDevice& d, uint64_t since, uint64_t* checkpoint) {
  DS_ASSIGN_OR_RETURN(auto ch, Open(t, d));
  DS_RETURN_IF_ERROR(ch->Send(sync::Encode(sync::Hello{sync::kProtocolVersion, since, 0, true, 0, false})));
  DS_ASSIGN_OR_RETURN(std::string w, ch->Receive());
  DS_RETURN_IF_ERROR(sync::DecodeAs<sync::Welcome>(w).status());
  DS_ASSIGN_OR_RETURN(std::string bytes, ch->Receive());
  DS_ASSIGN_OR_RETURN(sync::Batch b, sync::DecodeAs<sync::Batch>(bytes));
  size_t n = b.records.size();
  for (int i = 0; b.more && i < 10'000; ++i) {
    DS_ASSIGN_OR_RETURN(b, Call<sync::Batch>(*ch, sync::Pull{b.checkpoint, 0}));
    n += b.records.size();
  }
  *checkpoint = b.checkpoint;
  (void)ch->Send(sync::Encode(sync::Bye{}));
  return n;
}

Result<json> RunBench(const BenchServerArgs& a, const std::string& dir) {
  Env env = RealEnv();
  const int64_t now = env.clock->NowMillis();
  auto setup0 = SteadyClock::now();
  DS_ASSIGN_OR_RETURN(sync::KeyPair server_keys, sync::InitServerDir(dir, env, a.postgres));
  std::vector<BenchDevice> devices;
  BenchDevice writer;
  {
    DS_ASSIGN_OR_RETURN(auto store, sync::OpenServerDir(dir, env));
    sync::ServerCore core(store.get(), env);
    for (int i = 0; i < a.devices; ++i) {
      DS_ASSIGN_OR_RETURN(BenchDevice d, MakeDevice(core, "bench-worker-" + std::to_string(i), *env.random));
      d.subject = "BS-" + std::to_string(i);
      DS_RETURN_IF_ERROR(core.Assign(d.practitioner, d.subject));
      for (int r = 0; r < a.records; ++r) {
        d.push.push_back(NewRecord(d, d.subject, now, static_cast<uint32_t>(r), *env.random));
      }
      devices.push_back(std::move(d));
    }
    DS_ASSIGN_OR_RETURN(writer, MakeDevice(core, "bench-writer", *env.random));
    for (const auto& d : devices) DS_RETURN_IF_ERROR(core.Assign(writer.practitioner, d.subject));
  }
  double setup_s = Ms(SteadyClock::now() - setup0) / 1000.0;

  ServerProcess server;
  DS_RETURN_IF_ERROR(server.Start(dir));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double rss_start = server.MemoryMb("VmRSS");
  Target t{server.port(), server_keys.public_key, env.random};

  const double cpu0 = server.CpuSeconds();
  const double client_cpu0 = OwnCpuSeconds();
  const double wchar0 = server.IoMb("wchar");
  // Made here, as the per-phase threads were, so the push phase's client CPU
  // still includes starting them; nothing is timed until AllAtOnce.
  DeviceFleet fleet(devices.size());
  double push_wall = 0;
  auto push = [&](size_t i) { return PushSession(t, devices[i], devices[i].push); };
  DS_ASSIGN_OR_RETURN(std::vector<double> push_lat, fleet.AllAtOnce(push, &push_wall));
  const double rss_after_push = server.MemoryMb("VmRSS");
  const double cpu_push = server.CpuSeconds() - cpu0;
  const double client_cpu_push = OwnCpuSeconds() - client_cpu0;
  const double wchar_push = server.IoMb("wchar") - wchar0;

  // Everyone's checkpoint after phase 1, then the other practitioner's changes.
  uint64_t since = 0;
  DS_RETURN_IF_ERROR(PullSession(t, devices[0], 0, &since).status());
  std::vector<sync::Mutation> others;
  uint32_t counter = 0;
  for (const auto& d : devices) {
    for (int r = 0; r < a.pulls; ++r) {
      others.push_back(NewRecord(writer, d.subject, now, counter++, *env.random));
    }
  }
  for (size_t at = 0; at < others.size(); at += sync::kMaxMutationsPerPush) {
    size_t end = std::min(others.size(), at + sync::kMaxMutationsPerPush);
    std::vector<sync::Mutation> chunk(others.begin() + static_cast<long>(at),
                                      others.begin() + static_cast<long>(end));
    DS_RETURN_IF_ERROR(PushSession(t, writer, chunk));
  }

  const double cpu1 = server.CpuSeconds();
  const double client_cpu1 = OwnCpuSeconds();
  double pull_wall = 0;
  auto pull = [&](size_t i) -> Status {
    uint64_t cp = 0;
    DS_ASSIGN_OR_RETURN(size_t n, PullSession(t, devices[i], since, &cp));
    if (n != static_cast<size_t>(a.pulls)) {
      return InternalError("device " + std::to_string(i) + " pulled " + std::to_string(n) +
                           " records, not " + std::to_string(a.pulls));
    }
    return Status();
  };
  DS_ASSIGN_OR_RETURN(std::vector<double> pull_lat, fleet.AllAtOnce(pull, &pull_wall));
  const double cpu_pull = server.CpuSeconds() - cpu1;
  const double client_cpu_pull = OwnCpuSeconds() - client_cpu1;
  const double hwm = server.MemoryMb("VmHWM");
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  const double rss_end = server.MemoryMb("VmRSS");
  server.Stop();

  return json{{"backend", a.postgres.empty() ? "sqlite" : "postgres"},
              {"devices", a.devices},
              {"records_per_device", a.records},
              {"pulls_per_device", a.pulls},
              {"setup_s", setup_s},
              {"push_total_s", push_wall},
              {"push_p50_ms", Percentile(push_lat, 0.50)},
              {"push_p95_ms", Percentile(push_lat, 0.95)},
              {"push_max_ms", Percentile(push_lat, 1.0)},
              {"pull_total_s", pull_wall},
              {"pull_p50_ms", Percentile(pull_lat, 0.50)},
              {"pull_p95_ms", Percentile(pull_lat, 0.95)},
              {"pull_max_ms", Percentile(pull_lat, 1.0)},
              {"server_rss_mb", hwm},
              {"server_rss_start_mb", rss_start},
              {"server_rss_after_push_mb", rss_after_push},
              {"server_rss_end_mb", rss_end},
              {"server_rss_goal_mb", 64.0 + 0.1 * a.devices},
              // Server CPU during each phase: near the wall time means the
              // server is the bottleneck; the load average says how busy
              // the machine was (the bench shares its cores).
              {"server_cpu_push_s", cpu_push},
              {"server_cpu_pull_s", cpu_pull},
              // The device sessions' CPU (this process) in each phase: with
              // the server's, what the two shared cores had to do.
              {"client_cpu_push_s", client_cpu_push},
              {"client_cpu_pull_s", client_cpu_pull},
              // Bytes the server wrote (write calls: WAL frames, checkpoints,
              // sockets) during the push phase.
              {"server_write_push_mb", wchar_push},
              {"load_avg_1m", load}};
}

int BenchServer(const BenchServerArgs& a) {
  if (a.devices < 1 || a.devices > 2000) return Fail(kExitUsage, "--devices: between 1 and 2000");
  if (a.records < 1 || a.records > static_cast<int>(sync::kMaxMutationsPerPush)) {
    return Fail(kExitUsage, "--records: between 1 and 256");
  }
  if (a.pulls < 1 || a.pulls > 1000) return Fail(kExitUsage, "--pulls: between 1 and 1000");
  BenchTempDir tmp;
  if (Status s = tmp.Create("", "doorstep-bench-server-"); !s.ok()) return Fail(kExitInternal, s.message());
  Result<json> r = RunBench(a, tmp.path() + "/server");
  if (!r.ok()) return Fail(r.status());
  const json& j = *r;
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("%d devices at once, each pushing %d records then pulling %d made by another\n",
              a.devices, a.records, a.pulls);
  std::printf("push: %.2f s in all, p50 %.1f ms, p95 %.1f ms per session\n", j["push_total_s"].get<double>(),
              j["push_p50_ms"].get<double>(), j["push_p95_ms"].get<double>());
  std::printf("pull: %.2f s in all, p50 %.1f ms, p95 %.1f ms per session\n", j["pull_total_s"].get<double>(),
              j["pull_p50_ms"].get<double>(), j["pull_p95_ms"].get<double>());
  std::printf("server memory: peak %.1f MB (at start %.1f MB; goal <= %.1f MB)\n",
              j["server_rss_mb"].get<double>(), j["server_rss_start_mb"].get<double>(),
              j["server_rss_goal_mb"].get<double>());
  return kExitOk;
}

}  // namespace

void RegisterBenchServer(CLI::App& bench, int* exit_code) {
  auto args = std::make_shared<BenchServerArgs>();
  auto* cmd = bench.add_subcommand(
      "server", "Concurrent device sessions against a server process: push, then pull");
  cmd->add_option("--devices", args->devices, "Devices syncing at once")->capture_default_str();
  cmd->add_option("--records", args->records, "Records each device pushes")->capture_default_str();
  cmd->add_option("--pulls", args->pulls, "Records each device then pulls (made by another)")
      ->capture_default_str();
  cmd->add_option("--postgres", args->postgres,
                  "Server store in PostgreSQL (libpq conninfo of an empty database or schema)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, exit_code] { *exit_code = BenchServer(*args); });
}

}  // namespace doorstep::cli
