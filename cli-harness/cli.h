// Entry point of the `doorstep` command, and helpers shared by its
// subcommands (exit codes of CLI.md, error printing).
#ifndef DOORSTEP_CLI_CLI_H_
#define DOORSTEP_CLI_CLI_H_

#include <string>

#include "doorstep/core/status.h"

namespace doorstep::cli {

// Exit codes, as CLI.md fixes them.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitValidation = 3,
  kExitUnlock = 4,
  kExitNotFound = 5,
  kExitUnavailable = 6,
  kExitRefused = 7,
  kExitIntegrity = 8,
};

// Runs the command line; returns the process exit code.
int Main(int argc, char** argv);

// Maps a Status code onto the CLI exit codes.
int ExitCodeFor(const Status& status);

// Prints "doorstep: <message>" on stderr and returns ExitCodeFor(status).
int Fail(const Status& status);
// Prints "doorstep: <message>" on stderr and returns `code`.
int Fail(int code, const std::string& message);

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_CLI_H_
