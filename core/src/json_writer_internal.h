// A fast JSON writer for the store's hot write path: the same bytes as
// nlohmann::json::dump() (compact, object keys in the library's order, the
// library's escapes), written straight into a caller's buffer. Text is
// copied in runs between escapes (non-ASCII text once checked to be valid
// UTF-8; invalid text, floats and binary go to the library, so its errors and
// number format are kept). Stateless and thread-safe. Private to core.
#ifndef DOORSTEP_CORE_JSON_WRITER_INTERNAL_H_
#define DOORSTEP_CORE_JSON_WRITER_INTERNAL_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace doorstep::core {

// Appends j.dump() to `out`. Throws what j.dump() throws (invalid UTF-8).
void AppendJson(std::string* out, const nlohmann::json& j);

// Appends the JSON string literal of `s` (as nlohmann::json(s).dump()).
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_JSON_WRITER_INTERNAL_H_
