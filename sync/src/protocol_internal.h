// JSON forms of the protocol's parts, shared by the encoder, the decoder and
// the server store (which keeps some of them sealed). Private to sync/.
#ifndef DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_
#define DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

// True if `s` is a field path the protocol accepts: 1 to kMaxPathBytes
// ASCII letters, digits, '_', '.' or '-'. Every decoder (Decode, the stored
// revisions, the server's and the device's fast readers) uses this one, so
// they cannot disagree on what a field name is.
bool IsFieldPath(std::string_view s);

// Protocol 2 wire forms (docs/sync.md, "Wire format"). A mutation's
// author_id/device_id are written only where they differ from `author` and
// `device` (the push message carries those once).
nlohmann::json ToJson(const Mutation& m, const std::string& author, const std::string& device);
nlohmann::json WireJson(const MutationResult& r);
// A whole push message as a json map: the reference form. Encode() writes
// the same bytes with EncodePush (push_write.cc), which builds no tree.
nlohmann::json PushToJson(const Push& p);
std::string EncodePush(const Push& p);
// A record in its wire form, which is also how the server keeps a revision
// (sealed), so a pull splices stored records into a batch unchanged.
nlohmann::json ToJson(const PulledRecord& r);
// Moves the fields out of `r`.
nlohmann::json ToJson(PulledRecord&& r);
// The server's stored forms (JSON text, sealed CBOR) of a push answer and a
// conflict: protocol 1's maps, also what a batch carries for a conflict.
nlohmann::json ToJson(const MutationResult& r);
nlohmann::json ToJson(const ConflictInfo& c);

// Each reads a JSON map (untrusted), naming `path` in errors.
// A mutation of a push whose message-level author and device are given;
// its changed values are moved out of `j`.
Result<Mutation> MutationFromJson(nlohmann::json& j, const std::string& path,
                                  const std::string& author, const std::string& device);
Result<MutationResult> MutationResultFromWire(const nlohmann::json& j, const std::string& path);
Result<MutationResult> MutationResultFromJson(const nlohmann::json& j, const std::string& path);
// A record in the wire form. Moves the record's fields out of `j` (which is
// left valid but unspecified).
Result<PulledRecord> PulledRecordFromWire(nlohmann::json& j, const std::string& path);
// A stored record: the wire form, or protocol 1's map (kept by servers that
// stored it before protocol 2). Moves the fields out of `j`.
Result<PulledRecord> PulledRecordFromJson(nlohmann::json& j, const std::string& path);
// Rewrites a stored record's CBOR in protocol 1's form into the wire form
// (leaves a wire-form record as it is); kDataLoss if it does not decode.
Status UpgradeStoredRecord(std::string* cbor);
Result<ConflictInfo> ConflictInfoFromJson(const nlohmann::json& j, const std::string& path);

// An HLC in its wire form: [physical_ms - at, counter] when its device part
// is `device_id`, else its text.
nlohmann::json WireHlc(const std::string& hlc, const std::string& device_id, int64_t at);
// Reads WireHlc's output back into text; kInvalidArgument naming `where`.
Status HlcFromWire(const nlohmann::json& v, const std::string& device_id, int64_t at,
                   const std::string& where, std::string* out);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PROTOCOL_INTERNAL_H_
