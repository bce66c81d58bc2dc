// The C ABI: enrolment, sync with progress and cancel, conflicts.
#include "capi_internal.h"
#include "capi_json.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"

using namespace doorstep;        // NOLINT: this file is the boundary
using namespace doorstep::capi;  // NOLINT

extern "C" {

bool ds_enroll(ds_store_t* store, const char* server,
               const char* server_key_hex, const char* code, ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(server, "server"));
    DS_RETURN_IF_ERROR(Required(server_key_hex, "server_key_hex"));
    DS_RETURN_IF_ERROR(Required(code, "code"));
    return sync::Enroll(call.store(), CurrentEnv(), server, server_key_hex,
                        code);
  });
}

char* ds_sync(ds_store_t* store, ds_progress_fn progress, void* user,
              const ds_cancel_t* cancel, ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    sync::SyncOptions options;
    if (progress != nullptr) {
      options.progress = [progress, user](const sync::SyncProgress& p) {
        progress(p.phase, p.done, p.total, user);
      };
    }
    if (cancel != nullptr) options.cancel = &cancel->flag;
    DS_ASSIGN_OR_RETURN(sync::SyncReport report,
                        sync::RunSync(call.store(), CurrentEnv(), options));
    return CopyOut(Dump(SyncReportToJson(report)));
  });
}

char* ds_conflicts_list(ds_store_t* store, bool open_only, ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_ASSIGN_OR_RETURN(std::vector<nlohmann::json> conflicts,
                        core::ListConflicts(call.store(), open_only));
    nlohmann::json out = nlohmann::json::array();
    for (nlohmann::json& c : conflicts) out.push_back(std::move(c));
    return CopyOut(Dump(out));
  });
}

bool ds_conflict_resolve(ds_store_t* store, const char* conflict_id,
                         const char* take, const char* value_json,
                         ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_RETURN_IF_ERROR(Required(conflict_id, "conflict_id"));
    DS_RETURN_IF_ERROR(Required(take, "take"));
    nlohmann::json value;
    if (std::string_view(take) == "value") {
      DS_ASSIGN_OR_RETURN(value, ParseJson(value_json, "value"));
    } else if (value_json != nullptr) {
      return InvalidArgumentError("value is only given with take \"value\"");
    }
    return core::ResolveConflict(call.store(), conflict_id, take, value);
  });
}

}  // extern "C"
