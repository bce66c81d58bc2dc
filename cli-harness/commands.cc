#include "commands.h"

namespace doorstep::cli {

// Groups register themselves here as they land.
void RegisterCommands(CLI::App& app, int* exit_code) {
  RegisterSelftestCommands(app, exit_code);
  RegisterServerCommands(app, exit_code);
  RegisterDemoCommands(app, exit_code);
  RegisterDeviceCommands(app, exit_code);
  RegisterSimCommands(app, exit_code);
  auto* bench = app.add_subcommand("bench", "Benchmarks that print figures");
  bench->require_subcommand(1);
  RegisterBenchTransport(*bench, exit_code);
  RegisterBenchStore(*bench, exit_code);
  RegisterBenchSync(*bench, exit_code);
  RegisterBenchServer(*bench, exit_code);
}

}  // namespace doorstep::cli
