// The C ABI: writing, reading and validating records.
#include <utility>

#include "capi_internal.h"
#include "capi_json.h"
#include "doorstep/core/record.h"
#include "doorstep/core/schema.h"

namespace doorstep::capi {
namespace {

// The saved record as JSON, or DS_ERR_VALIDATION with the problems.
Result<char*> Outcome(const core::WriteOutcome& out) {
  if (!out.saved()) {
    return Status(static_cast<StatusCode>(DS_ERR_VALIDATION),
                  ProblemsForError(out.problems, DS_ERROR_MESSAGE_SIZE - 1));
  }
  return CopyOut(Dump(core::RecordToJson(out.record)));
}

Result<core::ListFilter> ParseFilter(const char* filter_json) {
  core::ListFilter filter;
  if (filter_json == nullptr) return filter;
  DS_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(filter_json, "filter"));
  if (!j.is_object())
    return InvalidArgumentError("filter must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "subject_id" && it.key() != "type") {
      return InvalidArgumentError("filter: unknown key '" + it.key() +
                                  "' (subject_id, type)");
    }
    if (!it->is_string())
      return InvalidArgumentError("filter." + it.key() + " must be a string");
    (it.key() == "type" ? filter.type : filter.subject_id) =
        it->get<std::string>();
  }
  return filter;
}

}  // namespace
}  // namespace doorstep::capi

using namespace doorstep;        // NOLINT: this file is the boundary
using namespace doorstep::capi;  // NOLINT

extern "C" {

char* ds_record_put(ds_store_t* store, const char* type, const char* subject_id,
                    const char* fields_json, const char* status,
                    ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(type, "type"));
    DS_RETURN_IF_ERROR(Required(subject_id, "subject_id"));
    DS_ASSIGN_OR_RETURN(nlohmann::json fields,
                        ParseJson(fields_json, "fields"));
    DS_ASSIGN_OR_RETURN(core::WriteOutcome out,
                        call.store().Add(type, subject_id, std::move(fields),
                                         status != nullptr ? status : "draft"));
    return Outcome(out);
  });
}

char* ds_record_put_many(ds_store_t* store, const char* records_json,
                         ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_ASSIGN_OR_RETURN(nlohmann::json in, ParseJson(records_json, "records"));
    if (!in.is_array()) return InvalidArgumentError("records must be a JSON array");
    std::vector<core::NewRecord> records;
    records.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      nlohmann::json& e = in[i];
      const std::string at = "records[" + std::to_string(i) + "]";
      if (!e.is_object()) return InvalidArgumentError(at + " must be a JSON object");
      for (auto it = e.begin(); it != e.end(); ++it) {
        if (it.key() != "type" && it.key() != "subject_id" && it.key() != "fields" &&
            it.key() != "status") {
          return InvalidArgumentError(at + ": unknown key '" + it.key() +
                                      "' (type, subject_id, fields, status)");
        }
      }
      for (const char* key : {"type", "subject_id"}) {
        if (!e.contains(key) || !e[key].is_string()) {
          return InvalidArgumentError(at + "." + key + " must be a string");
        }
      }
      if (!e.contains("fields")) return InvalidArgumentError(at + ".fields is required");
      if (e.contains("status") && !e["status"].is_string()) {
        return InvalidArgumentError(at + ".status must be a string");
      }
      records.push_back(core::NewRecord{e["type"].get<std::string>(), e["subject_id"].get<std::string>(),
                                        std::move(e["fields"]),
                                        e.contains("status") ? e["status"].get<std::string>() : "draft"});
    }
    DS_ASSIGN_OR_RETURN(std::vector<core::WriteOutcome> outs,
                        call.store().AddMany(std::move(records)));
    nlohmann::json out = nlohmann::json::array();
    for (const core::WriteOutcome& w : outs) {
      if (w.saved()) {
        out.push_back({{"ok", true}, {"record", core::RecordToJson(w.record)}});
      } else {
        out.push_back(ValidationToJson(w.problems, w.flags));
      }
    }
    return CopyOut(Dump(out));
  });
}

char* ds_record_edit(ds_store_t* store, const char* id,
                     const char* changes_json, const char* status,
                     ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(id, "id"));
    DS_ASSIGN_OR_RETURN(nlohmann::json changes,
                        ParseJson(changes_json, "changes"));
    std::optional<std::string> new_status;
    if (status != nullptr) new_status = status;
    DS_ASSIGN_OR_RETURN(core::WriteOutcome out,
                        call.store().Edit(id, changes, new_status));
    return Outcome(out);
  });
}

char* ds_record_get(ds_store_t* store, const char* id, ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(id, "id"));
    DS_ASSIGN_OR_RETURN(core::Record r, call.store().Get(id));
    return CopyOut(Dump(core::RecordToJson(r)));
  });
}

char* ds_record_list(ds_store_t* store, const char* filter_json,
                     ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_ASSIGN_OR_RETURN(core::ListFilter filter, ParseFilter(filter_json));
    DS_ASSIGN_OR_RETURN(std::vector<core::Record> records,
                        call.store().List(filter));
    nlohmann::json out = nlohmann::json::array();
    for (const core::Record& r : records) out.push_back(core::RecordToJson(r));
    return CopyOut(Dump(out));
  });
}

char* ds_record_history(ds_store_t* store, const char* id, ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(id, "id"));
    DS_ASSIGN_OR_RETURN(std::vector<core::HistoryEntry> entries,
                        call.store().History(id));
    nlohmann::json out = nlohmann::json::array();
    for (const core::HistoryEntry& e : entries)
      out.push_back(core::HistoryEntryToJson(e));
    return CopyOut(Dump(out));
  });
}

char* ds_validate(const char* type, const char* fields_json, const char* status,
                  ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    if (!Initialized()) return FailedPreconditionError("call ds_init first");
    DS_RETURN_IF_ERROR(Required(type, "type"));
    const core::RecordSchema* schema =
        core::SchemaRegistry::Default().Find(type);
    if (schema == nullptr) return InvalidArgumentError("unknown record type");
    DS_ASSIGN_OR_RETURN(nlohmann::json fields,
                        ParseJson(fields_json, "fields"));
    std::string st = status != nullptr ? status : "draft";
    if (st != "draft" && st != "final")
      return InvalidArgumentError("status must be 'draft' or 'final'");
    core::ValidationContext ctx;
    ctx.now_ms = CurrentEnv().clock->NowMillis();
    core::ValidationResult v = core::Validate(*schema, fields, st, ctx);
    return CopyOut(Dump(ValidationToJson(v.problems, v.flags)));
  });
}

}  // extern "C"
