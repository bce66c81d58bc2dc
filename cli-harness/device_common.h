// Helpers shared by the `doorstep device …` commands (cmd_device*.cc): the
// options every command takes, opening and unlocking a store with the right
// exit codes, reading a fields object, and reporting validation problems.
//
// Every function that returns `int` returns an exit code of cli.h: 0 on
// success; otherwise it has already printed one "doorstep: …" line on stderr.
// Thread safety: single-threaded CLI code.
#ifndef DOORSTEP_CLI_DEVICE_COMMON_H_
#define DOORSTEP_CLI_DEVICE_COMMON_H_

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/schema.h"
#include "doorstep/core/store.h"
#include "passphrase.h"

namespace doorstep::cli {

// Options common to the device commands.
struct DeviceOptions {
  std::string store;
  std::string key_file;  // --keystore-key-file
  bool json = false;
};

// Adds --store FILE (required) and --keystore-key-file FILE to `cmd`, and
// --json when `with_json`. `o` must outlive the parse.
void AddDeviceOptions(CLI::App* cmd, DeviceOptions* o, bool with_json);

// Opens the store at o.store and unlocks it with the key input of
// ReadKeyInput. Exit codes: 5 no store, 2 no passphrase source, 4 wrong key or
// locked out (the message gives the failure count, and says when the store
// wiped itself), 8 the file is not a sound store. When `key_out` is given, the
// key input used is moved there (passwd needs it again).
int OpenUnlocked(const DeviceOptions& o, std::unique_ptr<core::Store>* out,
                 KeyInput* key_out = nullptr);

// Reads the fields object from `file`, or from standard input when `file` is
// empty. When `allow_empty`, empty input yields {}. Exit code 3 when the text
// is not JSON or not an object, 2 when the file cannot be read.
int ReadFieldsObject(const std::string& file, bool allow_empty, nlohmann::json* out);

// Reports a refused write: "doorstep: record refused: N problems" and one line
// per problem on stderr ("doorstep: <path>: <message> (<code>)"), plus
// {"problems":[…]} on stdout when `json`. Returns 3.
int ReportProblems(const std::vector<core::Problem>& problems, bool json);

// Prints a JSON document on stdout (pretty, one document, newline-terminated).
void PrintJson(const nlohmann::json& j);

// Checks a record id argument: exit 2 with a message naming ID when it is not
// 32 lower-case hex characters.
int CheckRecordId(const std::string& id);

// Subcommand groups of `device`, one per file.
void RegisterDeviceRecordCommands(CLI::App* device, int* exit_code);  // cmd_device_records.cc
void RegisterDeviceCrashWriter(CLI::App* device, int* exit_code);     // cmd_device_crash.cc
void RegisterDeviceSyncCommands(CLI::App* device, int* exit_code);    // cmd_device_sync.cc

// Formats ms since the epoch for people ("-" for 0).
std::string FormatTime(int64_t ms);

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_DEVICE_COMMON_H_
