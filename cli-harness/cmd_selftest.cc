// `doorstep selftest noise FILE`: runs Noise test vectors through the sync
// library's Noise implementation (see doorstep/sync/noise_vectors.h).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cli.h"
#include "commands.h"
#include "doorstep/sync/noise_vectors.h"

namespace doorstep::cli {
namespace {

int RunSelftestNoise(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(kExitNotFound, "cannot open vector file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Fail(kExitUsage, "cannot read vector file " + path);
  Result<std::vector<sync::NoiseVectorOutcome>> outcomes = sync::RunNoiseVectors(text.str());
  if (!outcomes.ok()) return Fail(kExitUsage, path + ": " + outcomes.status().message());
  int passed = 0, failed = 0, skipped = 0;
  for (const sync::NoiseVectorOutcome& o : *outcomes) {
    const char* label = "FAIL";
    if (o.kind == sync::NoiseVectorOutcome::kPassed) {
      label = "ok  ";
      ++passed;
    } else if (o.kind == sync::NoiseVectorOutcome::kSkipped) {
      label = "skip";
      ++skipped;
    } else {
      ++failed;
    }
    std::printf("%s %s (%zu messages)%s%s\n", label, o.protocol_name.c_str(), o.messages,
                o.detail.empty() ? "" : ": ", o.detail.c_str());
  }
  if (skipped > 0) {
    std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  } else {
    std::printf("%d passed, %d failed\n", passed, failed);
  }
  if (failed > 0) return kExitIntegrity;
  return passed > 0 ? kExitOk : kExitInternal;
}

}  // namespace

void RegisterSelftestCommands(CLI::App& app, int* exit_code) {
  auto* selftest = app.add_subcommand("selftest", "Checks Doorstep against published test vectors");
  selftest->require_subcommand(1);
  auto* noise = selftest->add_subcommand(
      "noise", "Runs Noise test vectors (JSON); prints \"N passed, M failed\"");
  auto path = std::make_shared<std::string>();
  noise->add_option("FILE", *path, "Vector file in the Noise wiki's JSON format")->required();
  noise->callback([path, exit_code] { *exit_code = RunSelftestNoise(*path); });
}

}  // namespace doorstep::cli
