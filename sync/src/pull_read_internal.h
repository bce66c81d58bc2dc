// The device's reader of the server's messages. A `batch` (a first sync's
// bulk: up to 2000 records of about 1 KB) is read straight from its CBOR
// into PulledRecords: no json tree for the message or the record envelopes,
// no second pass over field values to check them (only each field's value
// becomes a json value, which the store needs). Private to sync/.
//
// The fast reader takes only what it reads exactly as Decode() would: any
// irregularity (malformed or unusual CBOR such as indefinite lengths, a
// check that fails, a duplicated key, an unknown key, conflicts or
// purge notices, another message type) makes it give up, and the message
// goes through Decode(), so what is accepted, the result and every error are
// Decode()'s own. Never throws.
// Thread safety: pure functions.
#ifndef DOORSTEP_SYNC_PULL_READ_INTERNAL_H_
#define DOORSTEP_SYNC_PULL_READ_INTERNAL_H_

#include <optional>
#include <string_view>

#include "doorstep/core/status.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

// A batch read by the fast reader alone, or nullopt when it gives up (then
// Decode() decides). When it returns a batch, Decode(bytes) returns an equal
// one (tests/sync/pull_read_test.cc and the protocol decode fuzz target
// check this).
std::optional<Batch> ReadBatchFast(std::string_view bytes);

// Decodes a message from the server: ReadBatchFast, else Decode.
Result<Message> DecodeServerMessage(std::string_view bytes);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PULL_READ_INTERNAL_H_
