// `doorstep device add|edit|show|list|history`: writing and reading records.
// Only show, list and history print decrypted content; see shared/CLI.md.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "device_common.h"
#include "doorstep/core/record.h"
#include "doorstep/core/schema.h"
#include "doorstep/core/store.h"
#include "record_print.h"

namespace doorstep::cli {
namespace {

// Prints a saved record the way add and edit do: its id (human) or its JSON.
// Flags go to stderr as a note so stdout stays the id alone.
void PrintSaved(const core::Record& r, bool json) {
  if (json) {
    PrintJson(core::RecordToJson(r));
    return;
  }
  std::printf("%s\n", r.id.c_str());
  if (!r.flags.empty()) {
    std::string flags;
    for (const auto& f : r.flags) flags += (flags.empty() ? "" : ", ") + f;
    std::fprintf(stderr, "flagged: %s\n", flags.c_str());
  }
}

int ReportWrite(const Result<core::WriteOutcome>& outcome, const std::string& what, bool json) {
  if (!outcome.ok()) return Fail(outcome.status().Annotate(what));
  if (!outcome->saved()) return ReportProblems(outcome->problems, json);
  PrintSaved(outcome->record, json);
  return kExitOk;
}

struct AddOptions {
  DeviceOptions device;
  std::string type;
  std::string subject;
  std::string status = "draft";
  std::string fields_file;
};

int RunAdd(const AddOptions& o) {
  if (!core::IsOpaqueId(o.subject)) {
    return Fail(kExitUsage, "--subject: 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
  nlohmann::json fields;
  if (int rc = ReadFieldsObject(o.fields_file, /*allow_empty=*/false, &fields); rc != kExitOk) {
    return rc;
  }
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  return ReportWrite(store->Add(o.type, o.subject, std::move(fields), o.status), "cannot add the record",
                     o.device.json);
}

struct EditOptions {
  DeviceOptions device;
  std::string id;
  std::string status;
  std::string fields_file;
};

int RunEdit(const EditOptions& o) {
  if (int rc = CheckRecordId(o.id); rc != kExitOk) return rc;
  nlohmann::json changes;
  if (int rc = ReadFieldsObject(o.fields_file, /*allow_empty=*/!o.status.empty(), &changes);
      rc != kExitOk) {
    return rc;
  }
  if (changes.empty() && o.status.empty()) {
    return Fail(kExitUsage, "nothing to change: give changed fields on stdin or --status final");
  }
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  std::optional<std::string> status;
  if (!o.status.empty()) status = o.status;
  return ReportWrite(store->Edit(o.id, changes, status), "cannot edit record " + o.id,
                     o.device.json);
}

struct ShowOptions {
  DeviceOptions device;
  std::string id;
};

int RunShow(const ShowOptions& o) {
  if (int rc = CheckRecordId(o.id); rc != kExitOk) return rc;
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  Result<core::Record> r = store->Get(o.id);
  if (!r.ok()) return Fail(r.status().Annotate("record " + o.id));
  if (o.device.json) {
    PrintJson(core::RecordToJson(*r));
  } else {
    PrintRecord(*r);
  }
  return kExitOk;
}

struct ListOptions {
  DeviceOptions device;
  std::string subject;
  std::string type;
};

int RunList(const ListOptions& o) {
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  core::ListFilter filter;
  if (!o.subject.empty()) filter.subject_id = o.subject;
  if (!o.type.empty()) filter.type = o.type;
  Result<std::vector<core::Record>> records = store->List(filter);
  if (!records.ok()) return Fail(records.status().Annotate("cannot list records"));
  if (o.device.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const core::Record& r : *records) out.push_back(core::RecordToJson(r));
    PrintJson(out);
  } else {
    PrintRecordList(*records);
  }
  return kExitOk;
}

int RunHistory(const ShowOptions& o) {
  if (int rc = CheckRecordId(o.id); rc != kExitOk) return rc;
  std::unique_ptr<core::Store> store;
  if (int rc = OpenUnlocked(o.device, &store); rc != kExitOk) return rc;
  Result<std::vector<core::HistoryEntry>> history = store->History(o.id);
  if (!history.ok()) return Fail(history.status().Annotate("record " + o.id));
  if (o.device.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const core::HistoryEntry& e : *history) out.push_back(core::HistoryEntryToJson(e));
    PrintJson(out);
  } else {
    PrintHistory(*history);
  }
  return kExitOk;
}

std::vector<std::string> TypeNames() { return core::SchemaRegistry::Default().TypeNames(); }

}  // namespace

void RegisterDeviceRecordCommands(CLI::App* device, int* exit_code) {
  auto add_o = std::make_shared<AddOptions>();
  CLI::App* add = device->add_subcommand(
      "add", "Add a record: fields as a JSON object on stdin; prints the new record id");
  AddDeviceOptions(add, &add_o->device, /*with_json=*/true);
  add->add_option("--type", add_o->type, "Record type")
      ->required()
      ->check(CLI::IsMember(TypeNames()));
  add->add_option("--subject", add_o->subject, "Case id of the child or young person")
      ->required();
  add->add_option("--status", add_o->status, "draft (default) or final")
      ->check(CLI::IsMember({"draft", "final"}));
  add->add_option("--fields", add_o->fields_file, "Read the fields from FILE instead of stdin");
  add->callback([add_o, exit_code] { *exit_code = RunAdd(*add_o); });

  auto edit_o = std::make_shared<EditOptions>();
  CLI::App* edit = device->add_subcommand(
      "edit", "Edit a record: changed fields as a JSON object on stdin (null removes a field); "
              "a final record is amended, never overwritten");
  AddDeviceOptions(edit, &edit_o->device, /*with_json=*/true);
  edit->add_option("ID", edit_o->id, "Record id")->required();
  edit->add_option("--status", edit_o->status, "final: finalise a draft")
      ->check(CLI::IsMember({"final"}));
  edit->add_option("--fields", edit_o->fields_file, "Read the changes from FILE instead of stdin");
  edit->callback([edit_o, exit_code] { *exit_code = RunEdit(*edit_o); });

  auto show_o = std::make_shared<ShowOptions>();
  CLI::App* show = device->add_subcommand("show", "Show one record, decrypted");
  AddDeviceOptions(show, &show_o->device, /*with_json=*/true);
  show->add_option("ID", show_o->id, "Record id")->required();
  show->callback([show_o, exit_code] { *exit_code = RunShow(*show_o); });

  auto list_o = std::make_shared<ListOptions>();
  CLI::App* list = device->add_subcommand(
      "list", "List records (envelopes; --json includes the fields)");
  AddDeviceOptions(list, &list_o->device, /*with_json=*/true);
  list->add_option("--subject", list_o->subject, "Only this subject's records");
  list->add_option("--type", list_o->type, "Only records of this type")
      ->check(CLI::IsMember(TypeNames()));
  list->callback([list_o, exit_code] { *exit_code = RunList(*list_o); });

  auto history_o = std::make_shared<ShowOptions>();
  CLI::App* history = device->add_subcommand(
      "history", "Every earlier version of a record, oldest first");
  AddDeviceOptions(history, &history_o->device, /*with_json=*/true);
  history->add_option("ID", history_o->id, "Record id")->required();
  history->callback([history_o, exit_code] { *exit_code = RunHistory(*history_o); });
}

}  // namespace doorstep::cli
