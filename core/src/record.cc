#include "doorstep/core/record.h"

#include <array>

namespace doorstep::core {
namespace {

constexpr std::array<unsigned char, 256> MakeNotLowerHex() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[static_cast<size_t>(c)] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ? 0 : 1;
  }
  return t;
}
constexpr std::array<unsigned char, 256> kNotLowerHex = MakeNotLowerHex();

template <typename T>
Status Take(const nlohmann::json& j, const char* key, T* out, bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return required ? CorruptionError(std::string("record lacks '") + key + "'") : Status::Ok();
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return CorruptionError(std::string("record field '") + key + "' is not a string");
    *out = it->template get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return CorruptionError(std::string("record field '") + key + "' is not a bool");
    *out = it->template get<bool>();
  } else {
    if (!it->is_number_integer()) return CorruptionError(std::string("record field '") + key + "' is not an integer");
    *out = it->template get<T>();
  }
  return Status::Ok();
}

}  // namespace

nlohmann::json RecordToJson(const Record& r) {
  nlohmann::json j = {
      {"id", r.id},
      {"type", r.type},
      {"subject_id", r.subject_id},
      {"status", r.status},
      {"rev", r.rev},
      {"base_rev", r.base_rev},
      {"local_version", r.local_version},
      {"flags", r.flags},
      {"author_id", r.author_id},
      {"device_id", r.device_id},
      {"schema_version", r.schema_version},
      {"hlc", r.hlc},
      {"created_at", r.created_at},
      {"updated_at", r.updated_at},
      {"server_received_at", r.server_received_at},
      {"deleted", r.deleted},
      {"fields", r.fields},
  };
  j["amends"] = r.amends ? nlohmann::json(*r.amends) : nlohmann::json(nullptr);
  return j;
}

Result<Record> RecordFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return CorruptionError("record is not a JSON object");
  Record r;
  DS_RETURN_IF_ERROR(Take(j, "id", &r.id));
  DS_RETURN_IF_ERROR(Take(j, "type", &r.type));
  DS_RETURN_IF_ERROR(Take(j, "subject_id", &r.subject_id));
  DS_RETURN_IF_ERROR(Take(j, "status", &r.status));
  DS_RETURN_IF_ERROR(Take(j, "rev", &r.rev));
  DS_RETURN_IF_ERROR(Take(j, "base_rev", &r.base_rev, false));
  DS_RETURN_IF_ERROR(Take(j, "local_version", &r.local_version, false));
  DS_RETURN_IF_ERROR(Take(j, "author_id", &r.author_id, false));
  DS_RETURN_IF_ERROR(Take(j, "device_id", &r.device_id, false));
  DS_RETURN_IF_ERROR(Take(j, "schema_version", &r.schema_version, false));
  DS_RETURN_IF_ERROR(Take(j, "hlc", &r.hlc, false));
  DS_RETURN_IF_ERROR(Take(j, "created_at", &r.created_at, false));
  DS_RETURN_IF_ERROR(Take(j, "updated_at", &r.updated_at, false));
  DS_RETURN_IF_ERROR(Take(j, "server_received_at", &r.server_received_at, false));
  DS_RETURN_IF_ERROR(Take(j, "deleted", &r.deleted, false));
  int64_t amends = 0;
  auto it = j.find("amends");
  if (it != j.end() && !it->is_null()) {
    DS_RETURN_IF_ERROR(Take(j, "amends", &amends));
    r.amends = amends;
  }
  auto f = j.find("flags");
  if (f != j.end() && !f->is_null()) {
    if (!f->is_array()) return CorruptionError("record 'flags' is not a list");
    for (const auto& x : *f) {
      if (!x.is_string()) return CorruptionError("record 'flags' holds a non-string");
      r.flags.push_back(x.get<std::string>());
    }
  }
  auto fields = j.find("fields");
  if (fields == j.end() || !fields->is_object()) return CorruptionError("record 'fields' is not an object");
  r.fields = *fields;
  return r;
}

bool IsRecordId(std::string_view s) {
  if (s.size() != 32) return false;
  // Branch-free: OR together each byte's class (1: not a lowercase hex digit).
  unsigned bad = 0;
  for (char c : s) bad |= kNotLowerHex[static_cast<unsigned char>(c)];
  return bad == 0;
}

RecordIdOrder::RecordIdOrder(Random& random) {
  unsigned char start[kBytes];
  random.Fill(start, sizeof start);
  for (unsigned char b : start) next_ = (next_ << 8) | b;
}

void RecordIdOrder::Stamp(unsigned char* id) {
  const uint64_t n = next_++;
  for (int i = 0; i < kBytes; ++i) id[i] = static_cast<unsigned char>(n >> (8 * (kBytes - 1 - i)));
}

bool IsOpaqueId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace doorstep::core
