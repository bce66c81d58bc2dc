// Differential fuzz of the store's JSON writer (core/src/json_writer.cc)
// against nlohmann::json::dump(), whose bytes it promises to reproduce: the
// store seals what the writer produces, and a byte that differs would change
// what a record's history and hashes say. The first input byte picks how the
// rest becomes a value: even → parsed as JSON text, odd → decoded as CBOR
// (which lets through text strings that are not valid UTF-8, binary values,
// floats of every width and deep nesting). For every value that decodes:
//   AppendJson(v) appends exactly v.dump(), and throws exactly when dump()
//   throws (invalid UTF-8);
// and for the raw bytes as one string s:
//   AppendJsonString(s) == json(s).dump(), with the same rule for throwing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "json_writer_internal.h"

namespace {

using nlohmann::json;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Returns true and sets *out to dump()'s bytes, or false when dump() throws.
bool Dump(const json& j, std::string* out) {
  try {
    *out = j.dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

void CheckValue(const json& j) {
  std::string want;
  bool want_ok = Dump(j, &want);
  const std::string prefix = "prefix:";
  std::string got = prefix;
  bool got_ok = true;
  try {
    doorstep::core::AppendJson(&got, j);
  } catch (const json::exception&) {
    got_ok = false;
  }
  Check(got_ok == want_ok);
  if (got_ok) Check(got == prefix + want);
}

void CheckString(std::string_view s) {
  std::string want;
  bool want_ok = Dump(json(std::string(s)), &want);
  std::string got;
  bool got_ok = true;
  try {
    doorstep::core::AppendJsonString(&got, s);
  } catch (const json::exception&) {
    got_ok = false;
  }
  Check(got_ok == want_ok);
  if (got_ok) Check(got == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 8 KiB keeps the recursion of dump() on deeply nested input well inside
  // the stack, sanitizers included.
  if (size == 0 || size > 8 * 1024) return 0;
  const bool cbor = (data[0] & 1) != 0;
  const uint8_t* body = data + 1;
  const size_t body_size = size - 1;

  // Building the value is not what is under test: the library's decoders
  // can throw even with allow_exceptions=false (e.g. a CBOR map announcing
  // 2^64 entries), so such inputs are simply skipped.
  json j(json::value_t::discarded);
  try {
    j = cbor ? json::from_cbor(body, body + body_size, /*strict=*/true,
                               /*allow_exceptions=*/false)
             : json::parse(body, body + body_size, nullptr,
                           /*allow_exceptions=*/false);
  } catch (const json::exception&) {
  }
  if (!j.is_discarded()) CheckValue(j);

  CheckString(std::string_view(reinterpret_cast<const char*>(body), body_size));
  return 0;
}
