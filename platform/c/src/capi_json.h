// JSON shapes the C ABI returns for core types without a JSON form of their
// own (the same shapes `doorstep device … --json` prints). Values; never throw
// beyond std::bad_alloc.
#ifndef DOORSTEP_PLATFORM_C_CAPI_JSON_H_
#define DOORSTEP_PLATFORM_C_CAPI_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "doorstep/core/store.h"
#include "doorstep/core/store_json.h"
#include "doorstep/sync/client.h"

namespace doorstep::capi {

// `j` as compact JSON text; invalid UTF-8 (which JSON cannot carry) is
// replaced by U+FFFD rather than failing the call.
std::string Dump(const nlohmann::json& j);

// {"pushed","rejected","pulled","conflicts","purged","round_trips"}.
nlohmann::json SyncReportToJson(const sync::SyncReport& r);
// {"ok","problems","flags"}.
nlohmann::json ValidationToJson(const std::vector<core::Problem>& problems,
                                const std::vector<std::string>& flags);
// The problems as a JSON array that fits in `max_bytes` once dumped: when the
// whole list does not fit, trailing problems are replaced by one entry with
// code "truncated" saying how many were left out.
std::string ProblemsForError(const std::vector<core::Problem>& problems,
                             size_t max_bytes);

}  // namespace doorstep::capi

#endif  // DOORSTEP_PLATFORM_C_CAPI_JSON_H_
