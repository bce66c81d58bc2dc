// `doorstep device enroll|sync|conflicts|resolve`: the device's side of sync.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "device_common.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"

namespace doorstep::cli {
namespace {

struct EnrollArgs {
  DeviceOptions dev;
  std::string server, server_key, code;
};

int RunEnroll(const EnrollArgs& a) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(a.dev, &store); rc != kExitOk) return rc;
  Status s = sync::Enroll(*store, RealEnv(), a.server, a.server_key, a.code);
  if (!s.ok()) return Fail(s.Annotate("enrolment failed"));
  auto e = store->GetEnrollment();
  if (!e.ok() || !e->has_value()) return Fail(kExitInternal, "enrolment was not saved");
  if (a.dev.json) {
    PrintJson({{"device_id", store->device_id()}, {"server", (*e)->server},
               {"practitioner_id", (*e)->practitioner_id}, {"role", (*e)->role}});
  } else {
    std::printf("enrolled device %s with %s as %s (%s)\n", store->device_id().c_str(), (*e)->server.c_str(),
                (*e)->practitioner_id.c_str(), (*e)->role.c_str());
  }
  return kExitOk;
}

constexpr int kProgressWidth = 48;

// One carriage-return line on standard error: "sync push 120/300".
void PrintProgress(const sync::SyncProgress& p) {
  std::fprintf(stderr, "\rsync %-7s %lld/%lld", p.phase, static_cast<long long>(p.done),
               static_cast<long long>(p.total));
  std::fprintf(stderr, "%-8s", "");  // clears the tail of a longer earlier line
  std::fflush(stderr);
}

int RunSyncCommand(const DeviceOptions& o) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o, &store); rc != kExitOk) return rc;
  sync::SyncOptions options;
  // The progress line goes to a terminal only: not with --json, not when
  // standard error is piped or redirected.
  const bool tty = !o.json && ::isatty(STDERR_FILENO) != 0;
  if (tty) options.progress = PrintProgress;
  auto report = sync::RunSync(*store, RealEnv(), options);
  if (tty) std::fprintf(stderr, "\r%*s\r", kProgressWidth, "");
  if (!report.ok()) {
    const Status& s = report.status();
    if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kAborted) {
      return Fail(kExitUnavailable, "cannot reach the server: " + s.message() + "; nothing was lost, retry later");
    }
    return Fail(s);
  }
  auto st = store->GetStatus();
  if (o.json) {
    nlohmann::json j = {{"pushed", report->pushed}, {"pulled", report->pulled},
                        {"conflicts", report->conflicts}, {"purged", report->purged},
                        {"rejected", report->rejected}, {"round_trips", report->round_trips}};
    if (st.ok()) {
      j["pending"] = st->pending;
      j["open_conflicts"] = st->open_conflicts;
    }
    PrintJson(j);
  } else {
    std::printf("synced: pushed %lld, pulled %lld, conflicts %lld, purged %lld, rejected %lld\n",
                static_cast<long long>(report->pushed), static_cast<long long>(report->pulled),
                static_cast<long long>(report->conflicts), static_cast<long long>(report->purged),
                static_cast<long long>(report->rejected));
    if (st.ok() && st->open_conflicts > 0) {
      std::printf("%lld open conflict(s): see 'doorstep device conflicts'\n",
                  static_cast<long long>(st->open_conflicts));
    }
  }
  return kExitOk;
}

int RunConflicts(const DeviceOptions& o) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o, &store); rc != kExitOk) return rc;
  auto list = core::ListConflicts(*store, true);
  if (!list.ok()) return Fail(list.status());
  if (o.json) {
    PrintJson(nlohmann::json(*list));
    return kExitOk;
  }
  if (list->empty()) std::printf("no open conflicts\n");
  for (const auto& c : *list) {
    std::printf("conflict %s  record %s  subject %s  field %s\n", c.value("conflict_id", "").c_str(),
                c.value("record_id", "").c_str(), c.value("subject_id", "").c_str(), c.value("path", "").c_str());
    auto show = [&](const char* label, const char* key, const char* who) {
      std::string v = c.contains(key) ? (c[key].is_string() ? c[key].get<std::string>() : c[key].dump()) : "(absent)";
      std::printf("  %s%s:\n", label, who ? (std::string(" (") + c.value(who, "") + ")").c_str() : "");
      std::istringstream lines(v);
      for (std::string line; std::getline(lines, line);) std::printf("    | %s\n", line.c_str());
    };
    show("server", "server", "server_author");
    show("device", "device", "device_author");
  }
  return kExitOk;
}

struct ResolveArgs {
  DeviceOptions dev;
  std::string conflict_id, take, value_file;
};

int RunResolve(const ResolveArgs& a) {
  if (a.take.empty() == a.value_file.empty()) {
    return Fail(kExitUsage, "give exactly one of --take server|device or --value-file FILE");
  }
  nlohmann::json value;
  if (!a.value_file.empty()) {
    std::ifstream in(a.value_file, std::ios::binary);
    if (!in) return Fail(kExitUsage, "cannot read --value-file " + a.value_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // A JSON value if it parses as one, else the file's text as a string.
    value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;
  }
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(a.dev, &store); rc != kExitOk) return rc;
  Status s = core::ResolveConflict(*store, a.conflict_id, a.value_file.empty() ? a.take : "value", value);
  if (!s.ok()) {
    if (s.code() == StatusCode::kFailedPrecondition) return Fail(kExitValidation, s.message());
    return Fail(s);
  }
  std::printf("resolved %s; it reaches the server and other devices at the next sync\n", a.conflict_id.c_str());
  return kExitOk;
}

}  // namespace

void RegisterDeviceSyncCommands(CLI::App* device, int* exit_code) {
  auto enroll_args = std::make_shared<EnrollArgs>();
  auto* enroll = device->add_subcommand("enroll", "Enrol this device with the council's sync server using a one-time code");
  AddDeviceOptions(enroll, &enroll_args->dev, true);
  enroll->add_option("--server", enroll_args->server, "Server address, HOST:PORT")->required();
  enroll->add_option("--server-key", enroll_args->server_key, "Server public key (hex), as 'server init' printed it")->required();
  enroll->add_option("--code", enroll_args->code, "One-time enrolment code from 'server enroll'")->required();
  enroll->callback([enroll_args, exit_code] { *exit_code = RunEnroll(*enroll_args); });

  auto sync_opts = std::make_shared<DeviceOptions>();
  auto* sync_cmd = device->add_subcommand("sync", "Push pending changes, then pull changes from the server");
  AddDeviceOptions(sync_cmd, sync_opts.get(), true);
  sync_cmd->callback([sync_opts, exit_code] { *exit_code = RunSyncCommand(*sync_opts); });

  auto conf_opts = std::make_shared<DeviceOptions>();
  auto* conflicts = device->add_subcommand("conflicts", "List open conflicts, with both wordings");
  AddDeviceOptions(conflicts, conf_opts.get(), true);
  conflicts->callback([conf_opts, exit_code] { *exit_code = RunConflicts(*conf_opts); });

  auto res = std::make_shared<ResolveArgs>();
  auto* resolve = device->add_subcommand("resolve", "Resolve a conflict: keep one side, or write a new value");
  AddDeviceOptions(resolve, &res->dev, false);
  resolve->add_option("CONFLICT_ID", res->conflict_id, "Conflict id")->required();
  resolve->add_option("--take", res->take, "Keep the server's or this device's value")->check(CLI::IsMember({"server", "device"}));
  resolve->add_option("--value-file", res->value_file, "File holding the new value (JSON, or plain text)");
  resolve->callback([res, exit_code] { *exit_code = RunResolve(*res); });
}

}  // namespace doorstep::cli
