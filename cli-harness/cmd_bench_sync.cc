// `doorstep bench sync`: sync between a real server process and devices on
// 127.0.0.1, in a temporary directory. The bench runs this same binary as
// `doorstep server run --listen 127.0.0.1:0` (learning the port from the line
// it prints) and plays the devices in its own process:
//   first push  — a writer device pushes N ~1 KB visit notes (made locally
//                 in one batch beforehand, untimed);
//   first sync  — a fresh second device of the same practitioner pulls all N
//                 (connect, handshake, pull, apply: the whole `device sync`);
//   incremental — the writer edits 100 records and syncs (push; its own
//                 revisions are not pulled back: docs/sync.md, "No echo"),
//                 then the reader syncs (pull);
//                 median of --rounds rounds (default 5);
//   no-op       — the reader syncs with nothing to do; median of 20.
// Bytes are TCP payload bytes seen by the device (framing and Noise included).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "cli.h"
#include "commands.h"
#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_dir.h"

namespace doorstep::cli {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kSubjects = 100;
constexpr int kIncrementalChanges = 100;
constexpr int kNoopRounds = 20;
constexpr char kPractitioner[] = "worker-1";

struct BenchSyncOptions {
  int64_t records = 10000;
  int rounds = 5;  // incremental rounds (the figures are their medians)
  std::string dir;  // parent of the temporary directory
  bool json = false;
};

std::string Subject(int64_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "child-%03d", static_cast<int>(i % kSubjects));
  return b;
}

struct Figures {
  double first_push_ms = 0, first_sync_ms = 0;
  double push_ms = 0, pull_ms = 0, noop_ms = 0;
  int64_t first_sync_bytes = 0, first_sync_round_trips = 0;
  int64_t noop_bytes = 0, noop_handshake_bytes = 0, noop_round_trips = 0;
  double fields_json_bytes = 0, record_json_bytes = 0;
  double local_write_ms = 0;
  int64_t push_pulled_back = 0;  // records the writer's incremental syncs pulled (its own echo)
  // CPU time of one incremental sync (medians), the device's (this process)
  // and the server's: what the wall-clock figures cost whatever the load.
  double push_client_cpu_ms = 0, push_server_cpu_ms = 0, pull_client_cpu_ms = 0, pull_server_cpu_ms = 0;
};

// Seeds the server dir: two enrolment codes for one practitioner, caseload.
Result<std::vector<std::string>> SeedServer(const std::string& dir, Env env, std::string* key_hex) {
  DS_ASSIGN_OR_RETURN(sync::KeyPair keys, sync::InitServerDir(dir, env));
  *key_hex = core::ToHex(keys.public_key);
  DS_ASSIGN_OR_RETURN(auto store, sync::OpenServerDir(dir, env));
  sync::ServerCore core(store.get(), env);
  std::vector<std::string> codes;
  for (int i = 0; i < 2; ++i) {
    DS_ASSIGN_OR_RETURN(sync::IssuedCode c, core.Enroll(kPractitioner, "social_worker"));
    codes.push_back(c.code);
  }
  for (int s = 0; s < kSubjects; ++s) DS_RETURN_IF_ERROR(core.Assign(kPractitioner, Subject(s)));
  return codes;
}

Result<std::unique_ptr<core::Store>> NewDevice(const std::string& path, Env env, const std::string& server,
                                               const std::string& key_hex, const std::string& code) {
  static const std::string pass = "bench passphrase (synthetic)";
  core::KeySource key;
  key.passphrase = &pass;
  core::StoreOptions options;
  options.kdf = core::KdfProfile::kInteractive;
  DS_ASSIGN_OR_RETURN(auto store, core::Store::Create(path, key, options, env));
  DS_RETURN_IF_ERROR(sync::Enroll(*store, env, server, key_hex, code));
  return store;
}

// One timed sync; `push_ms` (optional) gets the time until the pull began.
Result<sync::SyncReport> TimedSync(core::Store& store, Env env, double* ms, double* push_ms = nullptr) {
  sync::SyncOptions options;
  SteadyClock::time_point t0 = SteadyClock::now();
  double pull_start = -1;
  options.progress = [&](const sync::SyncProgress& p) {
    if (pull_start < 0 && std::string_view(p.phase) == "pull") pull_start = MsSince(t0);
  };
  DS_ASSIGN_OR_RETURN(sync::SyncReport r, sync::RunSync(store, env, options));
  *ms = MsSince(t0);
  if (push_ms != nullptr) *push_ms = pull_start < 0 ? *ms : pull_start;
  return r;
}

Status Run(const BenchSyncOptions& o, const std::string& dir, Figures* f) {
  Env env = RealEnv();
  std::string key_hex;
  DS_ASSIGN_OR_RETURN(std::vector<std::string> codes, SeedServer(dir + "/server", env, &key_hex));
  ServerProcess server;
  DS_RETURN_IF_ERROR(server.Start(dir + "/server"));
  DS_ASSIGN_OR_RETURN(auto writer, NewDevice(dir + "/writer.db", env, server.address(), key_hex, codes[0]));
  DS_ASSIGN_OR_RETURN(auto reader, NewDevice(dir + "/reader.db", env, server.address(), key_hex, codes[1]));

  BenchSamples samples(env.clock->NowMillis());
  std::vector<std::string> ids;
  SteadyClock::time_point t0 = SteadyClock::now();
  // The writer imports its records in one call, as a bulk import would.
  std::vector<core::NewRecord> in;
  in.reserve(static_cast<size_t>(o.records));
  for (int64_t i = 0; i < o.records; ++i) {
    const json& fields = samples.Fields(i);
    if (i < 100) f->fields_json_bytes += static_cast<double>(fields.dump().size());
    in.push_back(core::NewRecord{"visit_note", Subject(i), fields, "final"});
  }
  DS_ASSIGN_OR_RETURN(std::vector<core::WriteOutcome> written, writer->AddMany(std::move(in)));
  for (const core::WriteOutcome& w : written) {
    if (!w.saved()) return InternalError("bench sample refused: " + w.problems[0].message);
    ids.push_back(w.record.id);
  }
  f->local_write_ms = MsSince(t0);
  f->fields_json_bytes /= static_cast<double>(std::min<int64_t>(o.records, 100));

  double total_ms = 0;
  DS_ASSIGN_OR_RETURN(sync::SyncReport seed, TimedSync(*writer, env, &total_ms, &f->first_push_ms));
  if (seed.pushed != o.records) return InternalError("first push: not every record was accepted");

  DS_ASSIGN_OR_RETURN(sync::SyncReport first, TimedSync(*reader, env, &f->first_sync_ms));
  if (first.pulled != o.records) return InternalError("first sync: not every record arrived");
  f->first_sync_bytes = first.bytes_sent + first.bytes_received;
  f->first_sync_round_trips = first.round_trips;
  for (size_t i = 0; i < std::min<size_t>(ids.size(), 100); ++i) {
    DS_ASSIGN_OR_RETURN(core::Record r, reader->Get(ids[i]));
    f->record_json_bytes += static_cast<double>(core::RecordToJson(r).dump().size());
  }
  f->record_json_bytes /= static_cast<double>(std::min<size_t>(ids.size(), 100));

  std::vector<double> push, pull, push_cpu, push_server_cpu, pull_cpu, pull_server_cpu;
  // Runs one timed sync of `store` and the CPU both sides spent on it.
  auto timed = [&](core::Store& store, double* ms, std::vector<double>* cpu,
                   std::vector<double>* server_cpu) -> Result<sync::SyncReport> {
    const double c0 = OwnCpuSeconds(), s0 = server.OnCpuMs();
    DS_ASSIGN_OR_RETURN(sync::SyncReport r, TimedSync(store, env, ms));
    cpu->push_back((OwnCpuSeconds() - c0) * 1000);
    server_cpu->push_back(server.OnCpuMs() - s0);
    return r;
  };
  const int64_t changes = std::min<int64_t>(kIncrementalChanges, o.records);
  for (int round = 0; round < o.rounds; ++round) {
    DS_RETURN_IF_ERROR(writer->BeginBatch());
    for (int64_t i = 0; i < changes; ++i) {
      size_t k = static_cast<size_t>((round * changes + i) % o.records);
      DS_ASSIGN_OR_RETURN(core::WriteOutcome w, writer->Edit(ids[k], samples.Edit(i, round), std::nullopt));
      if (!w.saved()) return InternalError("bench edit refused");
    }
    DS_RETURN_IF_ERROR(writer->CommitBatch());
    double ms = 0;
    DS_ASSIGN_OR_RETURN(sync::SyncReport p, timed(*writer, &ms, &push_cpu, &push_server_cpu));
    if (p.pushed != changes) return InternalError("incremental push: not every change was accepted");
    push.push_back(ms);
    f->push_pulled_back += p.pulled;
    DS_ASSIGN_OR_RETURN(sync::SyncReport q, timed(*reader, &ms, &pull_cpu, &pull_server_cpu));
    if (q.pulled != changes) return InternalError("incremental pull: not every change arrived");
    pull.push_back(ms);
  }
  f->push_ms = Median(push);
  f->pull_ms = Median(pull);
  f->push_client_cpu_ms = Median(push_cpu);
  f->push_server_cpu_ms = Median(push_server_cpu);
  f->pull_client_cpu_ms = Median(pull_cpu);
  f->pull_server_cpu_ms = Median(pull_server_cpu);

  std::vector<double> noop;
  for (int i = 0; i < kNoopRounds; ++i) {
    double ms = 0;
    DS_ASSIGN_OR_RETURN(sync::SyncReport r, TimedSync(*reader, env, &ms));
    if (r.pulled != 0 || r.pushed != 0) return InternalError("no-op sync moved records");
    noop.push_back(ms);
    f->noop_handshake_bytes = r.handshake_bytes;
    f->noop_bytes = r.bytes_sent + r.bytes_received - r.handshake_bytes;
    f->noop_round_trips = r.round_trips;
  }
  f->noop_ms = Median(noop);
  return Status::Ok();
}

json ToJson(const BenchSyncOptions& o, const Figures& f) {
  auto round1 = [](double v) { return static_cast<double>(static_cast<int64_t>(v * 10 + 0.5)) / 10; };
  auto round3 = [](double v) { return static_cast<double>(static_cast<int64_t>(v * 1000 + 0.5)) / 1000; };
  const double n = static_cast<double>(o.records);
  const double first_rate = f.first_sync_ms > 0 ? n * 1000 / f.first_sync_ms : 0;
  const double wire = static_cast<double>(f.first_sync_bytes) / n;
  json j = {
      {"records", o.records},
      {"first_sync_records_per_s", static_cast<int64_t>(first_rate)},
      {"first_sync_ms", round1(f.first_sync_ms)},
      {"first_sync_round_trips", f.first_sync_round_trips},
      {"first_push_records_per_s",
       static_cast<int64_t>(f.first_push_ms > 0 ? n * 1000 / f.first_push_ms : 0)},
      {"first_push_ms", round1(f.first_push_ms)},
      {"local_write_records_per_s",
       static_cast<int64_t>(f.local_write_ms > 0 ? n * 1000 / f.local_write_ms : 0)},
      {"incremental_100_push_ms", round1(f.push_ms)},
      {"incremental_100_pull_ms", round1(f.pull_ms)},
      {"incremental_100_push_client_cpu_ms", round1(f.push_client_cpu_ms)},
      {"incremental_100_push_server_cpu_ms", round1(f.push_server_cpu_ms)},
      {"incremental_100_pull_client_cpu_ms", round1(f.pull_client_cpu_ms)},
      {"incremental_100_pull_server_cpu_ms", round1(f.pull_server_cpu_ms)},
      // Records the writer pulled back in all its incremental syncs: its own
      // edits come back only when the server could not answer that the
      // device holds them (docs/sync.md, "No echo").
      {"incremental_push_pulled_back", f.push_pulled_back},
      {"noop_sync_ms", round1(f.noop_ms)},
      {"noop_sync_bytes", f.noop_bytes},
      {"noop_sync_handshake_bytes", f.noop_handshake_bytes},
      {"noop_sync_round_trips", f.noop_round_trips},
      {"wire_bytes_per_record", round1(wire)},
      {"fields_json_bytes_per_record", round1(f.fields_json_bytes)},
      {"record_json_bytes_per_record", round1(f.record_json_bytes)},
      {"wire_to_fields_json", f.fields_json_bytes > 0 ? round3(wire / f.fields_json_bytes) : 0},
      {"wire_to_record_json", f.record_json_bytes > 0 ? round3(wire / f.record_json_bytes) : 0},
      // What the two plaintext figures measure, so the ratios can be read.
      {"plaintext_compared",
       {{"fields_json", "the record's fields alone, as compact JSON (mean of the first 100)"},
        {"record_json", "the whole record, envelope and fields, as `device show --json` prints it "
                        "(compact; mean of the first 100)"},
        {"wire", "TCP payload bytes of the first sync (handshake, framing, Noise tags included) / records"}}},
  };
  j["goals_met"] = {
      {"first_sync_records_per_s_min_25000", first_rate >= 25000},
      {"incremental_100_ms_max_10", f.push_ms <= 10 && f.pull_ms <= 10},
      {"noop_sync_ms_max_2", f.noop_ms <= 2},
      {"noop_sync_one_round_trip", f.noop_round_trips == 1},
      {"noop_sync_bytes_max_256", f.noop_bytes <= 256},
      {"wire_bytes_max_1_1x_fields_json", f.fields_json_bytes > 0 && wire <= 1.1 * f.fields_json_bytes},
      {"wire_bytes_max_1_1x_record_json", f.record_json_bytes > 0 && wire <= 1.1 * f.record_json_bytes},
  };
  return j;
}

int RunBenchSync(const BenchSyncOptions& o) {
  BenchTempDir tmp;
  if (Status s = tmp.Create(o.dir, "doorstep-bench-sync-"); !s.ok()) return Fail(kExitUsage, s.message());
  Figures f;
  Status s = Run(o, tmp.path(), &f);
  if (!s.ok()) return Fail(s.Annotate("bench sync"));
  json j = ToJson(o, f);
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("records %lld (server and devices on 127.0.0.1, separate processes)\n",
              static_cast<long long>(o.records));
  for (const auto& [k, v] : j.items()) {
    if (k != "records" && k != "goals_met" && k != "plaintext_compared") {
      std::printf("  %-32s %s\n", k.c_str(), v.dump().c_str());
    }
  }
  for (const auto& [k, v] : j["plaintext_compared"].items()) {
    std::printf("  plaintext %-12s %s\n", k.c_str(), v.get<std::string>().c_str());
  }
  for (const auto& [k, v] : j["goals_met"].items()) {
    std::printf("  goal %-40s %s\n", k.c_str(), v.get<bool>() ? "met" : "NOT met");
  }
  return kExitOk;
}

}  // namespace

void RegisterBenchSync(CLI::App& bench, int* exit_code) {
  auto o = std::make_shared<BenchSyncOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "sync", "Sync against a server process on 127.0.0.1: first sync, incremental, no-op");
  cmd->add_option("--records", o->records, "Records in the first sync (default 10000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--rounds", o->rounds, "Incremental rounds, each 100 changes pushed then pulled (default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--dir", o->dir, "Where to make the temporary directory (default: the system's)");
  cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->callback([o, exit_code] { *exit_code = RunBenchSync(*o); });
}

}  // namespace doorstep::cli
