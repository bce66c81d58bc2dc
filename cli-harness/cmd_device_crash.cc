// `doorstep device crash-writer` (hidden; for tests/e2e/crash_test.cc): adds
// sample records in a loop, and after each commit prints the new id on its own
// line and flushes, so a parent that kills this process at a random moment
// knows which records the store promised to keep. Every fourth write edits the
// previous record instead, so history rows are in flight too. Content is
// synthetic (SampleFields).
#include <cstdio>
#include <memory>
#include <string>

#include "cli.h"
#include "device_common.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"

namespace doorstep::cli {
namespace {

struct CrashWriterOptions {
  DeviceOptions device;
  int64_t count = 0;  // 0: until killed
};

int RunCrashWriter(const CrashWriterOptions& o) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  Env env = RealEnv();
  std::string last_id;
  for (int64_t i = 0; o.count == 0 || i < o.count; ++i) {
    nlohmann::json fields = core::SampleFields("visit_note", env.clock->NowMillis());
    fields["observations"] = "Crash-test write " + std::to_string(i) + ".";
    if (i % 4 == 3 && !last_id.empty()) {
      Result<core::WriteOutcome> e =
          store->Edit(last_id, {{"observations", fields["observations"]}}, std::nullopt);
      if (!e.ok()) return Fail(e.status().Annotate("crash-writer edit"));
      continue;
    }
    Result<core::WriteOutcome> w = store->Add("visit_note", "S-CRASH", fields, "draft");
    if (!w.ok()) return Fail(w.status().Annotate("crash-writer add"));
    if (!w->saved()) return ReportProblems(w->problems, false);
    last_id = w->record.id;
    std::printf("%s\n", last_id.c_str());
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace

void RegisterDeviceCrashWriter(CLI::App* device, int* exit_code) {
  auto o = std::make_shared<CrashWriterOptions>();
  CLI::App* cmd = device->add_subcommand("crash-writer", "Test helper: add records until killed");
  cmd->group("");  // hidden from --help
  AddDeviceOptions(cmd, &o->device, /*with_json=*/false);
  cmd->add_option("--count", o->count, "Stop after N writes (default: never)");
  cmd->callback([o, exit_code] { *exit_code = RunCrashWriter(*o); });
}

}  // namespace doorstep::cli
