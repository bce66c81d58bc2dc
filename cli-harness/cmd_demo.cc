// `doorstep demo`: a server and three devices on this machine act out a day
// of offline work — visits and a return-home interview recorded with no
// signal, a real conflict on a narrative field, its resolution — and end
// with every device converged. Everything is real: a SyncServer on
// 127.0.0.1 (port 0), SQLite stores sealed with libsodium, the Noise
// transport. All data is synthetic.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "cli.h"
#include "commands.h"
#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"

namespace doorstep::cli {
namespace {

namespace fs = std::filesystem;

struct Device {
  std::string name;
  std::string practitioner;
  std::string role;
  std::unique_ptr<core::Store> store;
};

void Step(const char* text) { std::printf("\n== %s\n", text); }

void PrintWording(const char* who, const nlohmann::json& v) {
  std::printf("   %s:\n", who);
  std::istringstream lines(v.is_string() ? v.get<std::string>() : v.dump());
  for (std::string line; std::getline(lines, line);) std::printf("     | %s\n", line.c_str());
}

// A digest of every record a device holds for `subjects`: equal digests mean
// the devices hold the same records with the same fields and revisions.
Result<std::string> Digest(core::Store& s, const std::vector<std::string>& subjects) {
  std::string all;
  for (const auto& subject : subjects) {
    DS_ASSIGN_OR_RETURN(auto records, s.List(core::ListFilter{subject, std::nullopt}));
    std::map<std::string, std::string> by_id;
    for (const auto& r : records) by_id[r.id] = std::to_string(r.rev) + r.status + r.fields.dump();
    for (const auto& [id, body] : by_id) all += id + body;
  }
  return core::ToHex(core::Blake2b256(all)).substr(0, 16);
}

Status RunDemo(const std::string& keep_dir) {
  auto t0 = std::chrono::steady_clock::now();
  Env env = RealEnv();
  std::string dir;
  if (keep_dir.empty()) {
    char tmpl[] = "/tmp/doorstep-demo-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return UnavailableError("cannot create a temporary directory");
    dir = tmpl;
  } else {
    dir = keep_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return UnavailableError("cannot create " + dir + ": " + ec.message());
  }
  struct Cleanup {
    std::string dir;
    bool remove;
    ~Cleanup() {
      if (remove) {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    }
  } cleanup{dir, keep_dir.empty()};

  Step("The council's sync server starts on this machine");
  DS_ASSIGN_OR_RETURN(auto server_store, sync::OpenSqliteServerStore(dir, core::RandomKey(*env.random), env, true));
  sync::ServerCore core(server_store.get(), env);
  sync::KeyPair keys = sync::GenerateKeyPair(*env.random);
  std::string server_key = core::ToHex(keys.public_key);
  DS_ASSIGN_OR_RETURN(auto server, sync::SyncServer::Start(&core, std::move(keys), env));
  std::string address = "127.0.0.1:" + std::to_string(server->port());
  std::printf("   listening on %s, key %s…\n", address.c_str(), server_key.substr(0, 16).c_str());

  Step("Three practitioners enrol their devices with one-time codes");
  std::vector<Device> devices;
  devices.push_back({"social worker's phone", "sw-ahmed-01", "social_worker", nullptr});
  devices.push_back({"manager's laptop", "mgr-jones-01", "manager", nullptr});
  devices.push_back({"personal adviser's tablet", "pa-okafor-01", "personal_adviser", nullptr});
  for (size_t i = 0; i < devices.size(); ++i) {
    Device& d = devices[i];
    // The demo stands in for the platform keystore with a random key.
    SecretBytes key = core::RandomKey(*env.random);
    DS_ASSIGN_OR_RETURN(d.store, core::Store::Create(dir + "/device-" + std::to_string(i) + ".db",
                                                     core::KeySource{nullptr, &key}, {}, env));
    DS_ASSIGN_OR_RETURN(sync::IssuedCode code, core.Enroll(d.practitioner, d.role));
    DS_RETURN_IF_ERROR(sync::Enroll(*d.store, env, address, server_key, code.code));
    std::printf("   %-26s %s (%s), code %s\n", d.name.c_str(), d.practitioner.c_str(), d.role.c_str(), code.code.c_str());
  }
  Device& phone = devices[0];
  Device& laptop = devices[1];
  Device& tablet = devices[2];
  const std::string child = "CASE-1001", young_person = "CASE-2002";
  DS_RETURN_IF_ERROR(core.Assign(phone.practitioner, child));
  DS_RETURN_IF_ERROR(core.Assign(laptop.practitioner, child));
  DS_RETURN_IF_ERROR(core.Assign(laptop.practitioner, young_person));
  DS_RETURN_IF_ERROR(core.Assign(tablet.practitioner, young_person));
  std::printf("   caseloads: %s → phone and laptop; %s → tablet and laptop\n", child.c_str(), young_person.c_str());

  Step("Offline all morning: visits and a return-home interview are recorded with no signal");
  int64_t now = env.clock->NowMillis();
  auto visit_fields = core::SampleFields("visit_note", now);
  visit_fields["observations"] =
      "Child was in the living room playing with building blocks.\n"
      "Home was warm and tidy; food in the kitchen.\n"
      "Child showed me their new school reading book.\n";
  DS_ASSIGN_OR_RETURN(auto visit, phone.store->Add("visit_note", child, visit_fields, "draft"));
  if (!visit.saved()) return InternalError("demo visit note refused: " + visit.problems[0].message);
  DS_ASSIGN_OR_RETURN(auto rhi, phone.store->Add("return_home_interview", child,
                                                 core::SampleFields("return_home_interview", now), "final"));
  if (!rhi.saved()) return InternalError("demo interview refused: " + rhi.problems[0].message);
  DS_ASSIGN_OR_RETURN(auto plan, tablet.store->Add("pathway_plan", young_person,
                                                   core::SampleFields("pathway_plan", now), "draft"));
  if (!plan.saved()) return InternalError("demo pathway plan refused: " + plan.problems[0].message);
  std::printf("   phone: visit note %s… and return-home interview %s… (final)\n",
              visit.record.id.substr(0, 8).c_str(), rhi.record.id.substr(0, 8).c_str());
  std::printf("   tablet: pathway plan review %s…\n", plan.record.id.substr(0, 8).c_str());

  Step("Back in signal: every device syncs");
  for (Device& d : devices) {
    DS_ASSIGN_OR_RETURN(auto r, sync::RunSync(*d.store, env, {}));
    std::printf("   %-26s pushed %lld, pulled %lld\n", d.name.c_str(), static_cast<long long>(r.pushed),
                static_cast<long long>(r.pulled));
  }

  Step("Both the worker and the manager edit the same line of the observations, offline");
  std::string base = visit_fields["observations"].get<std::string>();
  std::string worker_text =
      "Child was in the living room playing with building blocks; chatted happily with me.\n"
      "Home was warm and tidy; food in the kitchen.\n"
      "Child showed me their new school reading book.\n";
  std::string manager_text =
      "Child was in the living room playing with blocks; quiet at first, then engaged.\n"
      "Home was warm and tidy; food in the kitchen.\n"
      "Child showed me their new school reading book.\n";
  DS_ASSIGN_OR_RETURN(auto e1, phone.store->Edit(visit.record.id, {{"observations", worker_text}}, std::nullopt));
  DS_ASSIGN_OR_RETURN(auto e2, laptop.store->Edit(visit.record.id, {{"observations", manager_text},
                                                                    {"location", "Family home, living room"}},
                                                  std::nullopt));
  if (!e1.saved() || !e2.saved()) return InternalError("demo edit refused");
  DS_ASSIGN_OR_RETURN(auto p1, sync::RunSync(*phone.store, env, {}));
  DS_ASSIGN_OR_RETURN(auto p2, sync::RunSync(*laptop.store, env, {}));
  DS_ASSIGN_OR_RETURN(auto p3, sync::RunSync(*phone.store, env, {}));
  (void)p1;
  (void)p2;
  (void)p3;
  DS_ASSIGN_OR_RETURN(auto conflicts, core::ListConflicts(*laptop.store, true));
  DS_ASSIGN_OR_RETURN(auto phone_conflicts, core::ListConflicts(*phone.store, true));
  if (conflicts.size() != 1 || phone_conflicts.size() != 1) {
    return InternalError("expected one conflict on each device, found " + std::to_string(conflicts.size()) +
                         " and " + std::to_string(phone_conflicts.size()));
  }
  const auto& c = conflicts[0];
  std::printf("   the location edit merged cleanly; the overlapping observation line is a conflict.\n");
  std::printf("   conflict %s on '%s' (seen on both devices), nothing dropped:\n",
              c.value("conflict_id", "").substr(0, 8).c_str(), c.value("path", "").c_str());
  PrintWording(("server's wording, by " + c.value("server_author", "")).c_str(), c["server"]);
  PrintWording(("device's wording, by " + c.value("device_author", "")).c_str(), c["device"]);

  Step("The manager resolves it with a wording both agree, and everyone syncs");
  std::string agreed =
      "Child was in the living room playing with building blocks; quiet at first, then chatted happily with me.\n"
      "Home was warm and tidy; food in the kitchen.\n"
      "Child showed me their new school reading book.\n";
  DS_RETURN_IF_ERROR(core::ResolveConflict(*laptop.store, c["conflict_id"].get<std::string>(), "value", agreed));
  // The laptop pushes the resolution first; the others then pull it.
  for (Device* d : {&laptop, &phone, &tablet}) {
    DS_ASSIGN_OR_RETURN(auto r, sync::RunSync(*d->store, env, {}));
    std::printf("   %-26s pushed %lld, pulled %lld\n", d->name.c_str(), static_cast<long long>(r.pushed),
                static_cast<long long>(r.pulled));
  }

  Step("Summary");
  DS_ASSIGN_OR_RETURN(std::string d_phone, Digest(*phone.store, {child}));
  DS_ASSIGN_OR_RETURN(std::string d_laptop_child, Digest(*laptop.store, {child}));
  DS_ASSIGN_OR_RETURN(std::string d_tablet, Digest(*tablet.store, {young_person}));
  DS_ASSIGN_OR_RETURN(std::string d_laptop_yp, Digest(*laptop.store, {young_person}));
  bool converged = d_phone == d_laptop_child && d_tablet == d_laptop_yp;
  for (Device& d : devices) {
    DS_ASSIGN_OR_RETURN(auto st, d.store->GetStatus());
    std::printf("   %-26s %lld records, %lld pending, %lld open conflicts\n", d.name.c_str(),
                static_cast<long long>(st.records), static_cast<long long>(st.pending),
                static_cast<long long>(st.open_conflicts));
  }
  std::printf("   %s: phone %s = laptop %s;  %s: tablet %s = laptop %s\n", child.c_str(), d_phone.c_str(),
              d_laptop_child.c_str(), young_person.c_str(), d_tablet.c_str(), d_laptop_yp.c_str());
  DS_ASSIGN_OR_RETURN(auto server_conflicts, core.Conflicts(true));
  DS_ASSIGN_OR_RETURN(uint64_t audit_entries, core.VerifyAudit());
  std::printf("   server: %zu open conflicts, audit chain of %llu entries verified\n", server_conflicts.size(),
              static_cast<unsigned long long>(audit_entries));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%s in %.1f s\n", converged && server_conflicts.empty() ? "All devices converged" : "NOT CONVERGED",
              secs);
  server->Stop();
  server->Wait();
  if (!converged || !server_conflicts.empty()) return InternalError("the devices did not converge");
  return Status::Ok();
}

}  // namespace

void RegisterDemoCommands(CLI::App& app, int* exit_code) {
  auto keep = std::make_shared<std::string>();
  auto* demo = app.add_subcommand(
      "demo", "A server and three devices on this machine: a day of offline work, a conflict and its resolution");
  demo->add_option("--keep", *keep, "Keep the server and device files in this directory (default: a temporary one, removed)");
  demo->callback([keep, exit_code] {
    Status s = RunDemo(*keep);
    *exit_code = s.ok() ? kExitOk : Fail(s.Annotate("demo failed"));
  });
}

}  // namespace doorstep::cli
