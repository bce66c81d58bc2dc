// Registration of every subcommand group. Each cmd_<group>.cc defines one
// Register<Group>Commands; a command's callback stores its exit code in
// *exit_code.
#ifndef DOORSTEP_CLI_COMMANDS_H_
#define DOORSTEP_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace doorstep::cli {

void RegisterCommands(CLI::App& app, int* exit_code);

void RegisterSelftestCommands(CLI::App& app, int* exit_code);
void RegisterDeviceCommands(CLI::App& app, int* exit_code);
void RegisterServerCommands(CLI::App& app, int* exit_code);
void RegisterBenchCommands(CLI::App& app, int* exit_code);
// `bench transport`, under the `bench` group that RegisterCommands creates.
void RegisterBenchTransport(CLI::App& bench, int* exit_code);
// `bench store` (cmd_bench_store.cc), under the `bench` group.
void RegisterBenchStore(CLI::App& bench, int* exit_code);
// `bench sync` (cmd_bench_sync.cc), under the `bench` group.
void RegisterBenchSync(CLI::App& bench, int* exit_code);
// `bench server` (cmd_bench_server.cc), under the `bench` group.
void RegisterBenchServer(CLI::App& bench, int* exit_code);
void RegisterDemoCommands(CLI::App& app, int* exit_code);
// `sim` and the hidden `sim-sync-child` (cmd_sim.cc).
void RegisterSimCommands(CLI::App& app, int* exit_code);

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_COMMANDS_H_
