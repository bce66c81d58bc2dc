// The server's fast path for decoding a `push` message: read straight from
// the CBOR bytes into Mutation structs, without building a JSON tree of the
// whole message first (Decode() in protocol.h parses the message into
// nlohmann::json, then reads each mutation out of it). Only the changed
// field values become JSON values (the merge and the validator take JSON).
// Private to sync/. Thread safety: a pure function.
#ifndef DOORSTEP_SYNC_PUSH_READ_INTERNAL_H_
#define DOORSTEP_SYNC_PUSH_READ_INTERNAL_H_

#include <optional>
#include <string_view>

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

// The push `bytes` holds, when it is a push message that Decode() accepts:
// then the result equals what Decode() returns. nullopt for any other
// message and for anything irregular (a cap reached, a bad field, invalid
// UTF-8, an indefinite-length item, a duplicate key, a tag, ...): the caller
// then calls Decode(), whose answer and error message are authoritative, so
// every refusal keeps the codec's wording and field path. Never throws.
std::optional<Push> ReadPushFast(std::string_view bytes);

// Decode(), with a push taken through ReadPushFast first (the server's
// message decoder).
Result<Message> DecodeOnServer(std::string_view bytes);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PUSH_READ_INTERNAL_H_
