// JSON text of a value: exactly nlohmann::json::dump()'s bytes (compact), by
// the writer the store uses for record bodies, which copies text in runs
// instead of one character at a time. Stateless and thread-safe.
#ifndef DOORSTEP_CORE_JSON_TEXT_H_
#define DOORSTEP_CORE_JSON_TEXT_H_

#include <string>

#include <nlohmann/json.hpp>

namespace doorstep::core {

// Appends j.dump() to `out`. Throws what j.dump() throws (text that is not
// valid UTF-8: nlohmann::json::type_error).
void AppendJsonText(std::string* out, const nlohmann::json& j);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_JSON_TEXT_H_
