// `doorstep sim`: setting up the world (server store, servers behind fault
// proxies, devices, practitioners and caseloads), the run, and the report.
// See sim.h.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "doorstep/core/crypto.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_dir.h"
#include "sim.h"

namespace doorstep::cli {
namespace {

namespace fs = std::filesystem;

// Roles in the order practitioners take them: every role is represented
// from four practitioners on.
constexpr const char* kRoles[] = {"social_worker", "manager", "personal_adviser", "virtual_school"};

}  // namespace

nlohmann::json SimReport::ToJson() const {
  return {{"converged", converged},
          {"lost", lost},
          {"conflicts_open", conflicts_open},
          {"ops", ops},
          {"syncs", syncs},
          {"faults_injected", faults_injected},
          {"seconds", seconds},
          {"seed", seed},
          {"quiet", quiet},
          {"sync_failures", sync_failures},
          {"kills", kills},
          {"server_kills", server_kills},
          {"refused_local", refused_local},
          {"mutations", mutations},
          {"applied", applied},
          {"merged", merged},
          {"conflicted", conflicted},
          {"rejected", rejected},
          {"kept_rejected", kept_rejected},
          {"transfers", transfers},
          {"revocations", revocations},
          {"resolutions", resolutions},
          {"records_checked", records_checked},
          {"unexpected_rejections", unexpected_rejections},
          {"anomalies", anomalies},
          {"checks", {{"same_as_server", check_same}, {"caseload_scope", check_scoped}, {"audit", check_audit}}},
          {"faults", faults},
          {"sync_errors", sync_errors},
          {"backend", backend},
          {"server_syncs", server_syncs},
          {"server_pids", server_pids},
          {"problems", problems}};
}

Sim::Sim(SimOptions options) : o_(std::move(options)), rng_(o_.seed), clock_(1'760'000'000'000) {
  server_env_ = Env{&clock_, RealEnv().random, &logger_};
}

Sim::~Sim() {
  StopServerProcesses();
  proxy_.reset();    // the proxy, then servers and cores, before the stores
  servers_.clear();
  admin_.reset();
  server_store_.reset();
  for (Device& d : devices_) d.store.reset();
  if (remove_dir_ && !dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Sim::Device* Sim::RandomDevice() {
  std::vector<Device*> live;
  for (Device& d : devices_) {
    if (!d.revoked) live.push_back(&d);
  }
  return live.empty() ? nullptr : live[Next(live.size())];
}

Status Sim::Setup() {
  if (o_.devices < 1 || o_.ops < 0 || o_.servers < 1) {
    return InvalidArgumentError("--devices and --servers must be at least 1, --ops at least 0");
  }
  if (o_.keep_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "doorstep-sim-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return UnavailableError("cannot create a temporary directory");
    dir_ = tmpl;
    remove_dir_ = true;
  } else {
    dir_ = o_.keep_dir;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return UnavailableError("cannot create " + dir_ + ": " + ec.message());
  }
  std::string server_dir = dir_ + "/server";
  server_dir_ = server_dir;
  if (::mkdir(server_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return UnavailableError("cannot create " + server_dir);
  }
  if (o_.postgres.empty()) {
    const SecretBytes data_key = core::RandomKey(*RealEnv().random);
    DS_ASSIGN_OR_RETURN(server_store_, sync::OpenSqliteServerStore(server_dir, data_key.Clone(), server_env_, true));
    admin_ = std::make_unique<sync::ServerCore>(server_store_.get(), server_env_);
    sync::KeyPair keys = sync::GenerateKeyPair(*RealEnv().random);
    server_key_hex_ = core::ToHex(keys.public_key);
    for (int i = 0; i < o_.servers; ++i) {
      Server s;
      s.core = std::make_unique<sync::ServerCore>(server_store_.get(), server_env_);
      sync::SyncServerOptions so;
      so.threads = 1;
      DS_ASSIGN_OR_RETURN(s.server, sync::SyncServer::Start(s.core.get(), keys.Clone(), server_env_, so));
      s.port = s.server->port();
      servers_.push_back(std::move(s));
    }
  } else {
    // As `server init --dir --postgres`; the server processes open the dir
    // as `server run` does, with the sim's clock from the shared file.
    DS_ASSIGN_OR_RETURN(shared_clock_, SharedClock::Create(dir_ + "/clock", clock_.NowMillis()));
    Result<sync::KeyPair> keys = sync::InitServerDir(server_dir, server_env_, o_.postgres);
    if (!keys.ok() && keys.status().code() == StatusCode::kFailedPrecondition) {
      return keys.status().Annotate("--postgres: give an empty database, or a fresh schema with "
                                    "options='-csearch_path=NAME'");
    }
    if (!keys.ok()) return keys.status().Annotate("--postgres");
    server_key_hex_ = core::ToHex(keys->public_key);
    DS_ASSIGN_OR_RETURN(server_store_, sync::OpenServerDir(server_dir, server_env_));
    admin_ = std::make_unique<sync::ServerCore>(server_store_.get(), server_env_);
    for (int i = 0; i < o_.servers; ++i) {
      servers_.emplace_back();
      DS_RETURN_IF_ERROR(StartServerProcess(i, server_dir, &servers_.back()));
    }
  }
  DS_ASSIGN_OR_RETURN(proxy_, FaultProxy::Start(servers_[0].port));

  // Practitioners: a few more devices than practitioners, so some work on
  // two devices (phone and laptop) with one caseload.
  const int practitioners = std::max(1, o_.devices - o_.devices / 5);
  const int subjects = std::max(4, o_.devices);
  for (int s = 0; s < subjects; ++s) {
    char id[32];
    std::snprintf(id, sizeof id, "S-%04d", s + 1);
    subjects_.push_back(id);
  }
  std::vector<std::string> pract_ids;
  for (int p = 0; p < practitioners; ++p) {
    char id[32];
    std::snprintf(id, sizeof id, "worker-%03d", p + 1);
    pract_ids.push_back(id);
  }
  for (int i = 0; i < o_.devices; ++i) {
    Device d;
    d.index = i;
    int p = i % practitioners;
    d.practitioner = pract_ids[static_cast<size_t>(p)];
    d.role = kRoles[p % 4];
    d.path = dir_ + "/device-" + std::to_string(i) + ".db";
    d.key_path = dir_ + "/device-" + std::to_string(i) + ".key";
    d.random = std::make_unique<SeededRandom>(o_.seed * 1000003ULL + static_cast<uint64_t>(i) + 1);
    d.key = core::RandomKey(*d.random);
    {
      std::ofstream key(d.key_path, std::ios::binary | std::ios::trunc);
      key.write(reinterpret_cast<const char*>(d.key.data()), static_cast<std::streamsize>(d.key.size()));
      if (!key) return UnavailableError("cannot write " + d.key_path);
    }
    ::chmod(d.key_path.c_str(), 0600);
    Env env = DeviceEnv(d);
    DS_ASSIGN_OR_RETURN(d.store, core::Store::Create(d.path, core::KeySource{nullptr, &d.key}, {}, env));
    d.device_id = d.store->device_id();
    DS_ASSIGN_OR_RETURN(sync::IssuedCode code, Admin().Enroll(d.practitioner, d.role));
    std::string address = "127.0.0.1:" + std::to_string(proxy_->port());
    proxy_->SetTarget(servers_[static_cast<size_t>(i) % servers_.size()].port);
    DS_RETURN_IF_ERROR(sync::Enroll(*d.store, env, address, server_key_hex_, code.code));
    proxy_->WaitIdle(5000);
    devices_.push_back(std::move(d));
  }

  // Caseloads: 2–4 random subjects each, then every subject on at least two
  // caseloads (when there are two practitioners), so caseloads overlap.
  for (const std::string& p : pract_ids) {
    size_t want = std::min<size_t>(subjects_.size(), 2 + Next(3));
    while (caseload_[p].size() < want) caseload_[p].insert(subjects_[Next(subjects_.size())]);
  }
  for (const std::string& s : subjects_) {
    size_t holders = 0;
    for (auto& [p, set] : caseload_) holders += set.count(s);
    for (size_t tries = 0; holders < std::min<size_t>(2, pract_ids.size()) && tries < 100; ++tries) {
      if (caseload_[pract_ids[Next(pract_ids.size())]].insert(s).second) ++holders;
    }
  }
  for (auto& [p, set] : caseload_) {
    for (const std::string& s : set) DS_RETURN_IF_ERROR(Admin().Assign(p, s));
  }
  if (o_.devices >= 2) revoke_at_ = o_.ops / 2;
  return Status::Ok();
}

void Sim::Fill(SimReport* r) const {
  r->ops = ops_done_;
  r->syncs = syncs_;
  r->sync_failures = sync_failures_;
  r->kills = kills_;
  r->refused_local = refused_local_;
  r->transfers = transfers_;
  r->revocations = revocations_;
  r->resolutions = resolutions_;
  r->faults = faults_;
  r->faults_injected = 0;
  for (const auto& [kind, n] : faults_) r->faults_injected += n;
  r->sync_errors = sync_errors_;
  r->server_syncs.clear();
  r->server_pids = server_pids_;
  r->server_kills = server_kills_;
  for (const Server& s : servers_) r->server_syncs.push_back(s.syncs);
  r->backend = o_.postgres.empty() ? "sqlite" : "postgres";
  r->anomalies = static_cast<int64_t>(problems_.size());
  for (const std::string& p : problems_) {
    if (r->problems.size() < 50) r->problems.push_back(p);
  }
  r->seed = o_.seed;
}

Status Sim::Quiesce(SimReport* report) {
  for (int round = 0; round < 30; ++round) {
    bool moved = false;
    for (Device& d : devices_) {
      if (d.revoked) continue;
      sync::SyncReport r;
      bool ok = false;
      DS_RETURN_IF_ERROR(SyncDevice(d, /*faults=*/false, &r, &ok)
                             .Annotate("final sync of device " + std::to_string(d.index)));
      if (!ok || r.pushed || r.rejected || r.pulled || r.conflicts || r.purged) moved = true;
    }
    if (!moved) {
      report->quiet = true;
      return Status::Ok();
    }
  }
  problems_.push_back("the devices did not become quiet after 30 rounds of syncs");
  return Status::Ok();
}

Result<SimReport> RunSim(const SimOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  SimReport report;
  Sim sim(options);
  DS_RETURN_IF_ERROR(sim.Setup());
  for (int64_t i = 0; i < options.ops; ++i) {
    DS_RETURN_IF_ERROR(sim.Step(i).Annotate("operation " + std::to_string(i)));
    if (options.verbose && (i + 1) % 500 == 0) {
      std::fprintf(stderr, "sim: %lld operations\n", static_cast<long long>(i + 1));
    }
  }
  DS_RETURN_IF_ERROR(sim.Quiesce(&report));
  DS_RETURN_IF_ERROR(sim.Check(&report));
  sim.Fill(&report);
  DS_RETURN_IF_ERROR(sim.CheckServerProcesses());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace doorstep::cli
