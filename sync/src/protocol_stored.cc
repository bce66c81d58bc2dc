// Stored and compact forms shared by the codec and the server store: the
// HLC's wire form, and protocol 1's record map, which a server that stored
// revisions before protocol 2 still holds (read, and rewritten into the wire
// form before a pull splices it into a batch).
#include <cctype>
#include <cstdio>

#include "cbor_internal.h"
#include "doorstep/core/hlc.h"
#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"
#include "wire_read_internal.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 53;
constexpr size_t kPrefix = core::kHlcEncodedPrefixChars;  // "<13 digits>-<8 hex>-"


Status StatusField(const WireMap& w, const char* key, std::string* out) {
  DS_RETURN_IF_ERROR(w.String(key, 8, out));
  if (*out != "draft" && *out != "final") return InvalidArgumentError(w.At(key) + ": not draft or final");
  return Status::Ok();
}

bool IsToken(std::string_view s) { return IsTokenId(s); }

}  // namespace

json WireHlc(const std::string& hlc, const std::string& device_id, int64_t at) {
  if (hlc.size() != kPrefix + device_id.size() || hlc.compare(kPrefix, std::string::npos, device_id) != 0 ||
      hlc[13] != '-' || hlc[22] != '-') {
    return hlc;
  }
  int64_t ms = 0;
  uint64_t counter = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (hlc[i] < '0' || hlc[i] > '9') return hlc;
    ms = ms * 10 + (hlc[i] - '0');
  }
  for (size_t i = 14; i < 22; ++i) {
    char c = hlc[i];
    if (c >= '0' && c <= '9') counter = counter * 16 + static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') counter = counter * 16 + static_cast<uint64_t>(c - 'a' + 10);
    else return hlc;
  }
  return json::array({static_cast<int64_t>(static_cast<uint64_t>(ms) - static_cast<uint64_t>(at)), counter});
}

Status HlcFromWire(const json& v, const std::string& device_id, int64_t at, const std::string& where,
                   std::string* out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxHlcBytes) return InvalidArgumentError(where + ": too long");
    *out = s;
    return Status::Ok();
  }
  if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer()) {
    return InvalidArgumentError(where + ": not an hlc");
  }
  const bool neg0 = !v[0].is_number_unsigned() && v[0].get<int64_t>() < 0;
  int64_t d = neg0 ? v[0].get<int64_t>() : 0;
  if (!neg0) {
    uint64_t u = v[0].get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxCount)) return InvalidArgumentError(where + ": out of range");
    d = static_cast<int64_t>(u);
  }
  if (d < -kMaxCount || at + d < 0 || at + d > core::kHlcMaxPhysicalMs) {
    return InvalidArgumentError(where + ": out of range");
  }
  if (!v[1].is_number_unsigned() || v[1].get<uint64_t>() > 0xFFFFFFFFu) {
    return InvalidArgumentError(where + ": bad counter");
  }
  if (!IsHexId(device_id)) return InvalidArgumentError(where + ": no device id");
  char prefix[kPrefix + 1];
  std::snprintf(prefix, sizeof prefix, "%013lld-%08x-", static_cast<long long>(at + d),
                static_cast<unsigned>(v[1].get<uint64_t>()));
  *out = std::string(prefix, kPrefix) + device_id;
  return Status::Ok();
}

Result<PulledRecord> PulledRecordFromV1(json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  PulledRecord r;
  DS_RETURN_IF_ERROR(w.HexId("id", &r.id));
  DS_RETURN_IF_ERROR(w.Token("type", &r.type));
  DS_RETURN_IF_ERROR(w.Token("subject_id", &r.subject_id));
  DS_RETURN_IF_ERROR(w.Int("rev", 1, kMaxCount, &r.rev));
  DS_RETURN_IF_ERROR(StatusField(w, "status", &r.status));
  DS_RETURN_IF_ERROR(w.StringList("flags", kMaxFlags, kMaxTokenBytes, IsToken, &r.flags));
  DS_RETURN_IF_ERROR(w.OptInt("amends", 1, kMaxCount, &r.amends));
  DS_RETURN_IF_ERROR(w.Bool("deleted", &r.deleted));
  DS_RETURN_IF_ERROR(w.Token("author_id", &r.author_id));
  DS_RETURN_IF_ERROR(w.HexId("device_id", &r.device_id));
  DS_RETURN_IF_ERROR(w.Int("schema_version", 1, 1000000, &r.schema_version));
  DS_RETURN_IF_ERROR(w.String("hlc", kMaxHlcBytes, &r.hlc));
  DS_RETURN_IF_ERROR(w.Int("created_at", 0, kMaxCount, &r.created_at));
  DS_RETURN_IF_ERROR(w.Int("updated_at", 0, kMaxCount, &r.updated_at));
  DS_RETURN_IF_ERROR(w.Int("server_received_at", 0, kMaxCount, &r.server_received_at));
  DS_RETURN_IF_ERROR(w.Int("base_rev", 0, kMaxCount, &r.base_rev));
  json* fields = j.contains("fields") ? &j["fields"] : nullptr;
  if (fields == nullptr) return InvalidArgumentError(w.At("fields") + ": missing");
  if (!fields->is_object()) return InvalidArgumentError(w.At("fields") + ": not a map");
  if (fields->size() > kMaxFieldsPerRecord) return ResourceExhaustedError(w.At("fields") + ": too many");
  for (const auto& [k, v] : fields->items()) {
    if (!IsFieldPath(k)) return InvalidArgumentError(w.At("fields") + ": bad field name");
    DS_RETURN_IF_ERROR(CheckValue(v, w.At("fields") + "." + k));
  }
  r.fields = std::move(*fields);
  return r;
}

Result<PulledRecord> PulledRecordFromJson(json& j, const std::string& path) {
  if (j.is_object() && j.contains("id")) return PulledRecordFromV1(j, path);
  return PulledRecordFromWire(j, path);
}

Status UpgradeStoredRecord(std::string* cbor) {
  // Protocol 1's map always holds "amends", its first key in nlohmann's
  // (sorted) key order; the wire form never has that key.
  static constexpr char kV1Key[] = "\x66" "amends";
  if (cbor->size() < 8 || cbor->compare(1, 7, kV1Key, 7) != 0) return Status::Ok();
  CborLimits limits;
  auto j = ParseCbor(*cbor, limits);
  if (!j.ok()) return DataLossError("stored record: " + j.status().message());
  auto rec = PulledRecordFromV1(*j, "stored record");
  if (!rec.ok()) return DataLossError(rec.status().message());
  std::vector<uint8_t> v = json::to_cbor(ToJson(std::move(*rec)));
  cbor->assign(v.begin(), v.end());
  return Status::Ok();
}

}  // namespace doorstep::sync::internal
