// The JSON shapes of a record's history entry and of a store's status, as
// CLI.md gives them for `device history --json` and `device status --json`.
// The command line and the C ABI both print these, so they are defined once.
// History entries hold decrypted field values: only commands whose job is to
// show case content may print them.
#ifndef DOORSTEP_CORE_STORE_JSON_H_
#define DOORSTEP_CORE_STORE_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

#include "doorstep/core/store.h"

namespace doorstep::core {

// {local_version, rev, hlc, updated_at, author_id, device_id, status, origin, fields}.
nlohmann::json HistoryEntryToJson(const HistoryEntry& e);

// {store, device_id, records, pending, rejected, rejected_details,
//  open_conflicts, last_sync_at, checkpoint, enrolled, enrollment}; `store`
// is `store_path` as given, enrollment is null when the device is not enrolled.
nlohmann::json StoreStatusToJson(const std::string& store_path, const StoreStatus& s);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_STORE_JSON_H_
