// Bounded CBOR → JSON parsing and checked field access for untrusted
// messages. Private to sync/. Thread safety: pure functions.
#ifndef DOORSTEP_SYNC_CBOR_INTERNAL_H_
#define DOORSTEP_SYNC_CBOR_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "doorstep/core/status.h"

namespace doorstep::sync::internal {

struct CborLimits {
  size_t max_bytes = 16u << 20;
  size_t max_depth = 24;               // whole message, envelope included
  size_t max_container = 10000;        // elements of any one array/map
  size_t max_string = 1u << 20;        // bytes of any one string or key
  size_t max_nodes = 4u << 20;         // values in the whole message
  size_t max_byte_string = 16;         // bytes of a byte string (ids); longer ones are refused
};

// Parses `bytes` as exactly one CBOR item. Rejects (kInvalidArgument)
// truncated or trailing input, tags, byte strings longer than
// max_byte_string (the decoders accept them only as ids), invalid UTF-8, non-finite
// floats, depth or sizes beyond `limits` (kResourceExhausted for sizes).
// Never throws.
Result<nlohmann::json> ParseCbor(std::string_view bytes, const CborLimits& limits);

// True if `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_CBOR_INTERNAL_H_
