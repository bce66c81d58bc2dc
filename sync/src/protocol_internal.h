// JSON forms of the protocol's parts, shared by the encoder, the decoder and
// the server store (which keeps some of them sealed). Private to sync/.
#ifndef DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_
#define DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_

#include <string>

#include <nlohmann/json.hpp>

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

nlohmann::json ToJson(const Mutation& m);
nlohmann::json ToJson(const MutationResult& r);
nlohmann::json ToJson(const PulledRecord& r);
nlohmann::json ToJson(const ConflictInfo& c);

// Each reads a JSON map (untrusted), naming `path` in errors.
Result<Mutation> MutationFromJson(const nlohmann::json& j, const std::string& path);
Result<MutationResult> MutationResultFromJson(const nlohmann::json& j, const std::string& path);
// Moves the record's fields out of `j` (which is left valid but unspecified).
Result<PulledRecord> PulledRecordFromJson(nlohmann::json& j, const std::string& path);
// Moves the fields out of `r`.
nlohmann::json ToJson(PulledRecord&& r);
Result<ConflictInfo> ConflictInfoFromJson(const nlohmann::json& j, const std::string& path);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_
