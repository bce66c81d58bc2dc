// Checked reads of fields from a decoded (untrusted) JSON map, each failure a
// kInvalidArgument naming the field path. Private to sync/.
// Thread safety: pure functions.
#ifndef DOORSTEP_SYNC_WIRE_READ_INTERNAL_H_
#define DOORSTEP_SYNC_WIRE_READ_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/status.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

// CheckValue, calling `where()` (the value's path) only when the value is
// refused: decoding a valid message builds no path strings.
template <typename WhereFn>
Status CheckValueAt(const nlohmann::json& value, WhereFn where) {
  if (CheckValue(value, {}).ok()) return Status::Ok();
  return CheckValue(value, where());
}

// A map being read, with its path for messages ("push.m[2]").
// Wire forms of a 32-hex id: a 16-byte CBOR byte string. WireId() keeps an
// id that is not 32 lower-case hex as text (which IdFromWire refuses).
nlohmann::json WireId(const std::string& hex);
// True and `*hex` set if `v` is a 16-byte byte string.
bool IdFromWire(const nlohmann::json& v, std::string* hex);

class WireMap {
 public:
  // Fails unless `j` is an object.
  static Result<WireMap> Of(const nlohmann::json& j, std::string path);

  const std::string& path() const { return path_; }
  std::string At(std::string_view key) const { return path_ + "." + std::string(key); }
  // The child value or nullptr when absent.
  const nlohmann::json* Find(const char* key) const;

  Status String(const char* key, size_t max_bytes, std::string* out, bool required = true) const;
  Status HexId(const char* key, std::string* out, bool required = true) const;
  // An id sent as a 16-byte CBOR byte string (protocol 2), read as 32 hex.
  Status IdBytes(const char* key, std::string* out, bool required = true) const;
  Status Token(const char* key, std::string* out, bool required = true) const;
  Status Int(const char* key, int64_t min, int64_t max, int64_t* out, bool required = true) const;
  Status Uint(const char* key, uint64_t max, uint64_t* out, bool required = true) const;
  // Absent or null → nullopt.
  Status OptInt(const char* key, int64_t min, int64_t max, std::optional<int64_t>* out) const;
  Status Bool(const char* key, bool* out, bool required = true) const;
  // A JSON value checked by CheckValue; absent → null.
  Status Value(const char* key, nlohmann::json* out) const;
  // An array of strings each ≤ max_bytes and accepted by `ok` (if given).
  Status StringList(const char* key, size_t max_count, size_t max_bytes,
                    const std::function<bool(std::string_view)>& ok,
                    std::vector<std::string>* out, bool required = true) const;
  // An array; `*out` points at it. Fails if longer than max_count.
  Status Array(const char* key, size_t max_count, const nlohmann::json** out,
               bool required = true) const;

 private:
  WireMap(const nlohmann::json& j, std::string path) : j_(&j), path_(std::move(path)) {}
  Status Missing(const char* key) const;
  const nlohmann::json* j_;
  std::string path_;
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_WIRE_READ_INTERNAL_H_
