#include "device_common.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli.h"
#include "doorstep/core/record.h"
#include "doorstep/core/timefmt.h"

namespace doorstep::cli {
namespace {

bool FileExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

void AddDeviceOptions(CLI::App* cmd, DeviceOptions* o, bool with_json) {
  cmd->add_option("--store", o->store, "The device store file")->required();
  cmd->add_option("--keystore-key-file", o->key_file,
                  "A platform-keystore key (32 raw bytes or 64 hex characters); with "
                  "DOORSTEP_PASSPHRASE set too, both are needed to open the store");
  if (with_json) cmd->add_flag("--json", o->json, "Print one JSON document");
}

int OpenUnlocked(const DeviceOptions& o, std::unique_ptr<core::Store>* out, KeyInput* key_out) {
  Result<std::unique_ptr<core::Store>> store = core::Store::Open(o.store, RealEnv());
  if (!store.ok()) {
    if (store.status().code() == StatusCode::kNotFound) {
      return Fail(kExitNotFound, "no store at " + o.store);
    }
    return Fail(store.status().Annotate(o.store));
  }
  KeyInput key;
  if (int rc = ReadKeyInput(o.key_file, /*confirm=*/false, &key); rc != kExitOk) return rc;
  Status s = (*store)->Unlock(key.source());
  if (!s.ok()) {
    // Integrity, I/O, memory and internal errors keep their own exit codes;
    // everything else (wrong key, key of the wrong kind, locked out) is 4.
    StatusCode c = s.code();
    if (c == StatusCode::kDataLoss || c == StatusCode::kCorruption ||
        c == StatusCode::kUnavailable || c == StatusCode::kResourceExhausted ||
        c == StatusCode::kInternal) {
      return Fail(s.Annotate("cannot unlock " + o.store));
    }
    store->reset();
    std::string msg = "cannot unlock " + o.store + ": " + s.message();
    if (!FileExists(o.store) && msg.find("wiped") == std::string::npos) {
      msg += "; the store has been wiped";
    }
    return Fail(kExitUnlock, msg);
  }
  *out = std::move(*store);
  if (key_out != nullptr) *key_out = std::move(key);
  return kExitOk;
}

int ReadFieldsObject(const std::string& file, bool allow_empty, nlohmann::json* out) {
  std::string text;
  std::string source = file.empty() ? "fields (standard input)" : "--fields " + file;
  if (file.empty()) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Fail(kExitUsage, source + ": cannot read the file");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (allow_empty && text.find_first_not_of(" \t\r\n") == std::string::npos) {
    *out = nlohmann::json::object();
    return kExitOk;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(kExitValidation, source + ": not valid JSON");
  if (!j.is_object()) {
    return Fail(kExitValidation, source + ": expected a JSON object of fields, got " +
                                     std::string(j.type_name()));
  }
  *out = std::move(j);
  return kExitOk;
}

int ReportProblems(const std::vector<core::Problem>& problems, bool json) {
  std::fprintf(stderr, "doorstep: record refused: %zu problem%s\n", problems.size(),
               problems.size() == 1 ? "" : "s");
  for (const core::Problem& p : problems) {
    std::fprintf(stderr, "doorstep: %s: %s (%s)\n", p.path.empty() ? "record" : p.path.c_str(),
                 p.message.c_str(), p.code.c_str());
  }
  if (json) PrintJson({{"problems", core::ProblemsToJson(problems)}});
  return kExitValidation;
}

void PrintJson(const nlohmann::json& j) {
  std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

int CheckRecordId(const std::string& id) {
  if (core::IsRecordId(id)) return kExitOk;
  return Fail(kExitUsage, "ID: not a record id (32 lower-case hex characters)");
}

std::string FormatTime(int64_t ms) { return ms == 0 ? "-" : core::FormatDateTimeMs(ms); }

}  // namespace doorstep::cli
