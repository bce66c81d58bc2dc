#include "wire_read_internal.h"

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

Result<WireMap> WireMap::Of(const json& j, std::string path) {
  if (!j.is_object()) return InvalidArgumentError(path + ": not a map");
  return WireMap(j, std::move(path));
}

const json* WireMap::Find(const char* key) const {
  auto it = j_->find(key);
  return it == j_->end() ? nullptr : &*it;
}

Status WireMap::Missing(const char* key) const { return InvalidArgumentError(At(key) + ": missing"); }

Status WireMap::String(const char* key, size_t max_bytes, std::string* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!v->is_string()) return InvalidArgumentError(At(key) + ": not a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) return InvalidArgumentError(At(key) + ": too long");
  *out = s;
  return Status::Ok();
}

Status WireMap::HexId(const char* key, std::string* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!v->is_string() || !IsHexId(v->get_ref<const std::string&>())) {
    return InvalidArgumentError(At(key) + ": not a 32-hex id");
  }
  *out = v->get_ref<const std::string&>();
  return Status::Ok();
}

json WireId(const std::string& hex) {
  if (!IsHexId(hex)) return hex;
  auto nibble = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
  std::vector<uint8_t> b(16);
  for (size_t i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return json::binary(std::move(b));
}

bool IdFromWire(const json& v, std::string* hex) {
  if (!v.is_binary() || v.get_binary().size() != 16) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  hex->resize(32);
  const auto& b = v.get_binary();
  for (size_t i = 0; i < 16; ++i) {
    (*hex)[2 * i] = kHex[b[i] >> 4];
    (*hex)[2 * i + 1] = kHex[b[i] & 15];
  }
  return true;
}

Status WireMap::IdBytes(const char* key, std::string* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!IdFromWire(*v, out)) return InvalidArgumentError(At(key) + ": not a 16-byte id");
  return Status::Ok();
}

Status WireMap::Token(const char* key, std::string* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!v->is_string() || !IsTokenId(v->get_ref<const std::string&>())) {
    return InvalidArgumentError(At(key) + ": not a valid id");
  }
  *out = v->get_ref<const std::string&>();
  return Status::Ok();
}

Status WireMap::Int(const char* key, int64_t min, int64_t max, int64_t* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  int64_t x;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return InvalidArgumentError(At(key) + ": out of range");
    x = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    return InvalidArgumentError(At(key) + ": not an integer");
  }
  if (x < min || x > max) return InvalidArgumentError(At(key) + ": out of range");
  *out = x;
  return Status::Ok();
}

Status WireMap::Uint(const char* key, uint64_t max, uint64_t* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  uint64_t x;
  if (v->is_number_unsigned()) {
    x = v->get<uint64_t>();
  } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    x = static_cast<uint64_t>(v->get<int64_t>());
  } else {
    return InvalidArgumentError(At(key) + ": not a non-negative integer");
  }
  if (x > max) return InvalidArgumentError(At(key) + ": out of range");
  *out = x;
  return Status::Ok();
}

Status WireMap::OptInt(const char* key, int64_t min, int64_t max, std::optional<int64_t>* out) const {
  const json* v = Find(key);
  if (v == nullptr || v->is_null()) {
    out->reset();
    return Status::Ok();
  }
  int64_t x = 0;
  DS_RETURN_IF_ERROR(Int(key, min, max, &x));
  *out = x;
  return Status::Ok();
}

Status WireMap::Bool(const char* key, bool* out, bool required) const {
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!v->is_boolean()) return InvalidArgumentError(At(key) + ": not a boolean");
  *out = v->get<bool>();
  return Status::Ok();
}

Status WireMap::Value(const char* key, json* out) const {
  const json* v = Find(key);
  if (v == nullptr) {
    *out = nullptr;
    return Status::Ok();
  }
  DS_RETURN_IF_ERROR(CheckValueAt(*v, [&] { return At(key); }));
  *out = *v;
  return Status::Ok();
}

Status WireMap::StringList(const char* key, size_t max_count, size_t max_bytes,
                           const std::function<bool(std::string_view)>& ok,
                           std::vector<std::string>* out, bool required) const {
  const json* arr = nullptr;
  DS_RETURN_IF_ERROR(Array(key, max_count, &arr, required));
  out->clear();
  if (arr == nullptr) return Status::Ok();
  out->reserve(arr->size());
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& e = (*arr)[i];
    auto where = [&] { return At(key) + "[" + std::to_string(i) + "]"; };  // for an error only
    if (!e.is_string()) return InvalidArgumentError(where() + ": not a string");
    const std::string& s = e.get_ref<const std::string&>();
    if (s.size() > max_bytes || (ok && !ok(s))) return InvalidArgumentError(where() + ": not valid");
    out->push_back(s);
  }
  return Status::Ok();
}

Status WireMap::Array(const char* key, size_t max_count, const json** out, bool required) const {
  *out = nullptr;
  const json* v = Find(key);
  if (v == nullptr) return required ? Missing(key) : Status::Ok();
  if (!v->is_array()) return InvalidArgumentError(At(key) + ": not an array");
  if (v->size() > max_count) {
    return ResourceExhaustedError(At(key) + ": more than " + std::to_string(max_count) + " entries");
  }
  *out = v;
  return Status::Ok();
}

}  // namespace doorstep::sync::internal
