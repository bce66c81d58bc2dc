// Helpers shared by ServerCore's files. Private to sync/.
#ifndef DOORSTEP_SYNC_SERVER_CORE_INTERNAL_H_
#define DOORSTEP_SYNC_SERVER_CORE_INTERNAL_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "doorstep/core/env.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"

namespace doorstep::sync::internal {

// Upper case, without '-' and spaces.
std::string NormalizeCode(std::string_view code);
// BLAKE2b-256 of the normalised code (32 raw bytes).
std::string CodeHash(std::string_view code);
std::string DeviceActor(std::string_view device_id);
// True if a hello from `d` at `now` should update its last_seen_at (not
// seen in the last minute, or the clock went back).
bool SeenLongAgo(const DeviceInfo& d, int64_t now);
// Appends an audit entry stamped now.
Status AppendAuditEntry(ServerTxn& txn, Env env, std::string actor, std::string action,
             nlohmann::json details);

// The value at dotted `path` inside `root` (null if any step is missing).
nlohmann::json GetPath(const nlohmann::json& root, std::string_view path);
// Sets (or, for null, removes) the value at dotted `path`, creating objects.
void SetPath(nlohmann::json* root, std::string_view path, const nlohmann::json& value);
// The first segment of a dotted path, and the rest ("" if none).
std::string_view PathHead(std::string_view path);
std::string_view PathRest(std::string_view path);

// What one push may write to a subject: the pusher's caseload entry and, if
// there is none, its last unassignment. The caseload cannot change while a
// push is applied (a push writes records, not caseloads, and its transaction
// is the only writer), so it is read once per subject, not per mutation.
struct SubjectAccess {
  bool on_caseload = false;
  std::optional<CaseloadEvent> last_unassign;  // read only if not on it
};
using CaseloadMemo = std::map<std::string, SubjectAccess, std::less<>>;

// Applies one mutation inside `txn` (push), returning its outcome. Storage
// failures are errors; everything the device got wrong is a rejection.
// `memo` is the push's (empty at its start).
Result<MutationResult> ApplyMutation(ServerTxn& txn, Env env, const SessionContext& who,
                                     const Mutation& m, int64_t now, CaseloadMemo* memo);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_SERVER_CORE_INTERNAL_H_
