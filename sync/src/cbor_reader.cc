#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#include "cbor_internal.h"

namespace doorstep::sync::internal {
namespace {

using json = nlohmann::json;

// A SAX handler that builds a json DOM like nlohmann's own, but refuses
// anything beyond the limits as soon as it is seen (before recursing deeper),
// so hostile input cannot exhaust the stack or memory.
class BoundedSax {
 public:
  BoundedSax(json& root, const CborLimits& limits) : root_(root), limits_(limits) {}

  bool null() { return Value(json(nullptr)); }
  bool boolean(bool v) { return Value(json(v)); }
  bool number_integer(json::number_integer_t v) { return Value(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Value(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) {
    if (!std::isfinite(v)) return Fail(StatusCode::kInvalidArgument, "non-finite number");
    return Value(json(v));
  }
  bool string(json::string_t& s) {
    if (!CheckString(s)) return false;
    return Value(json(std::move(s)));
  }
  bool binary(json::binary_t& b) {
    if (b.size() > limits_.max_byte_string) return Fail(StatusCode::kInvalidArgument, "byte strings not allowed");
    return Value(json::binary(std::move(static_cast<std::vector<uint8_t>&>(b))));
  }
  bool start_object(std::size_t n) { return Start(json::object(), n); }
  bool key(json::string_t& k) {
    if (!CheckString(k)) return false;
    key_ = std::move(k);
    return true;
  }
  bool end_object() { stack_.pop_back(); return true; }
  bool start_array(std::size_t n) { return Start(json::array(), n); }
  bool end_array() { stack_.pop_back(); return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
    if (status_.ok()) status_ = InvalidArgumentError("malformed CBOR at byte " + std::to_string(pos));
    return false;
  }

  const Status& status() const { return status_; }

 private:
  bool Fail(StatusCode code, std::string m) {
    if (status_.ok()) status_ = Status(code, std::move(m));
    return false;
  }
  bool CheckString(const std::string& s) {
    if (s.size() > limits_.max_string) return Fail(StatusCode::kResourceExhausted, "string too long");
    if (!IsValidUtf8(s)) return Fail(StatusCode::kInvalidArgument, "invalid UTF-8 in string");
    return true;
  }
  // Inserts `v` at the current position; returns a pointer to it.
  json* Insert(json v) {
    if (++nodes_ > limits_.max_nodes) {
      Fail(StatusCode::kResourceExhausted, "too many values");
      return nullptr;
    }
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json* top = stack_.back();
    if (top->is_array()) {
      if (top->size() >= limits_.max_container) {
        Fail(StatusCode::kResourceExhausted, "array too long");
        return nullptr;
      }
      top->push_back(std::move(v));
      return &top->back();
    }
    if (top->size() >= limits_.max_container) {
      Fail(StatusCode::kResourceExhausted, "map too large");
      return nullptr;
    }
    json& slot = (*top)[key_];
    slot = std::move(v);
    return &slot;
  }
  bool Value(json v) { return Insert(std::move(v)) != nullptr; }
  bool Start(json v, std::size_t n) {
    if (n != static_cast<std::size_t>(-1) && n > limits_.max_container) {
      return Fail(StatusCode::kResourceExhausted, "container too large");
    }
    if (stack_.size() + 1 > limits_.max_depth) return Fail(StatusCode::kInvalidArgument, "nested too deep");
    json* p = Insert(std::move(v));
    if (p == nullptr) return false;
    stack_.push_back(p);
    return true;
  }

  json& root_;
  const CborLimits& limits_;
  std::vector<json*> stack_;
  std::string key_;
  size_t nodes_ = 0;
  Status status_;
};

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  // ASCII (most field text) eight bytes at a time, up to the first byte
  // with its high bit set; the loop below checks from there.
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) break;
  }
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Result<json> ParseCbor(std::string_view bytes, const CborLimits& limits) {
  if (bytes.size() > limits.max_bytes) return ResourceExhaustedError("message too large");
  if (bytes.empty()) return InvalidArgumentError("empty message");
  json root;
  BoundedSax sax(root, limits);
  bool ok = false;
  try {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
    ok = json::sax_parse(b, b + bytes.size(), &sax, json::input_format_t::cbor, /*strict=*/true);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory decoding message");
  } catch (const std::exception&) {
    return InvalidArgumentError("malformed CBOR");
  }
  if (!ok || !sax.status().ok()) {
    if (!sax.status().ok()) return sax.status();
    return InvalidArgumentError("malformed CBOR");
  }
  return root;
}

}  // namespace doorstep::sync::internal
