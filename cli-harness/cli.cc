#include "cli.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "doorstep/core/secret.h"

namespace doorstep::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument: return kExitValidation;
    case StatusCode::kNotFound: return kExitNotFound;
    case StatusCode::kUnauthenticated: return kExitUnlock;
    case StatusCode::kPermissionDenied: return kExitRefused;
    case StatusCode::kUnavailable:
    case StatusCode::kAborted: return kExitUnavailable;
    case StatusCode::kDataLoss:
    case StatusCode::kCorruption: return kExitIntegrity;
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict:
    case StatusCode::kResourceExhausted:
    case StatusCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "doorstep: %s\n", message.c_str());
  return code;
}

int Fail(const Status& status) { return Fail(ExitCodeFor(status), status.message()); }

int Main(int argc, char** argv) {
  if (Status s = Initialize(); !s.ok()) return Fail(s);
  CLI::App app{"Doorstep: offline, encrypted case recording for children's social care, synced to a council server."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "doorstep 0.1.0");
  int exit_code = kExitOk;
  RegisterCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(kExitUsage, e.what());
  } catch (const std::exception& e) {
    return Fail(kExitInternal, std::string("unexpected error: ") + e.what());
  }
  return exit_code;
}

}  // namespace doorstep::cli
