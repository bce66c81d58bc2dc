// The sealed plaintext of a record version (docs/store.md, "Version body"):
// one compact JSON object written by hand on the hot write path, parsed with
// nlohmann::json (checked access) on reads.
#include <charconv>

#include "json_writer_internal.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

void AppendString(std::string* out, std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {  // not plain ASCII: let the JSON library escape and check it
      out->append(nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
  }
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void Key(std::string* out, const char* key) {
  out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

template <typename T>
Status Take(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();  // left out: the default
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return DataLossError(std::string("record body: '") + key + "' is not a string");
    *out = it->template get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return DataLossError(std::string("record body: '") + key + "' is not a bool");
    *out = it->template get<bool>();
  } else {
    if (!it->is_number_integer()) return DataLossError(std::string("record body: '") + key + "' is not an integer");
    *out = it->template get<T>();
  }
  return Status::Ok();
}

}  // namespace

void EncodeVersionBody(const Record& r, std::string_view origin, std::string_view own_device,
                       std::string* body) {
  std::string& out = *body;
  out.clear();
  out.reserve(2048);  // most bodies fit without regrowth (which would leave copies of the text)
  out.append("{\"f\":");
  AppendJson(&out, r.fields);
  Key(&out, "s");
  AppendString(&out, r.subject_id);
  Key(&out, "st");
  AppendString(&out, r.status);
  // An HLC stamp ends with its device's id: left out when that is the
  // version's device ("hp": the stamp's time and counter only).
  constexpr size_t kHlcPrefix = 23;
  if (r.hlc.size() > kHlcPrefix && std::string_view(r.hlc).substr(kHlcPrefix) == r.device_id) {
    Key(&out, "hp");
    AppendString(&out, std::string_view(r.hlc).substr(0, kHlcPrefix));
  } else {
    Key(&out, "h");
    AppendString(&out, r.hlc);
  }
  Key(&out, "u");
  AppendInt(&out, r.updated_at);
  Key(&out, "sv");
  AppendInt(&out, r.schema_version);
  if (!r.author_id.empty()) {
    Key(&out, "a");
    AppendString(&out, r.author_id);
  }
  if (r.device_id != own_device) {
    Key(&out, "d");
    AppendString(&out, r.device_id);
  }
  if (r.created_at != r.updated_at) {
    Key(&out, "c");
    AppendInt(&out, r.created_at);
  }
  if (r.rev != 0) {
    Key(&out, "r");
    AppendInt(&out, r.rev);
  }
  if (r.base_rev != 0) {
    Key(&out, "b");
    AppendInt(&out, r.base_rev);
  }
  if (r.server_received_at != 0) {
    Key(&out, "sr");
    AppendInt(&out, r.server_received_at);
  }
  if (r.deleted) {
    Key(&out, "x");
    out.append("true");
  }
  if (r.amends) {
    Key(&out, "am");
    AppendInt(&out, *r.amends);
  }
  if (!r.flags.empty()) {
    Key(&out, "fl");
    out.push_back('[');
    for (size_t i = 0; i < r.flags.size(); ++i) {
      if (i) out.push_back(',');
      AppendString(&out, r.flags[i]);
    }
    out.push_back(']');
  }
  if (origin != "local") {
    Key(&out, "o");
    AppendString(&out, origin);
  }
  out.push_back('}');
}

Result<Record> DecodeVersionBody(std::string_view plain, std::string_view id, std::string_view type,
                                 int64_t local_version, std::string_view own_device) {
  auto j = nlohmann::json::parse(plain, nullptr, false);
  if (!j.is_object()) return DataLossError("record body is not a JSON object");
  Record r;
  r.id = std::string(id);
  r.type = std::string(type);
  r.local_version = local_version;
  r.device_id = std::string(own_device);
  DS_RETURN_IF_ERROR(Take(j, "s", &r.subject_id));
  DS_RETURN_IF_ERROR(Take(j, "st", &r.status));
  DS_RETURN_IF_ERROR(Take(j, "h", &r.hlc));
  DS_RETURN_IF_ERROR(Take(j, "u", &r.updated_at));
  r.created_at = r.updated_at;
  DS_RETURN_IF_ERROR(Take(j, "sv", &r.schema_version));
  DS_RETURN_IF_ERROR(Take(j, "a", &r.author_id));
  DS_RETURN_IF_ERROR(Take(j, "d", &r.device_id));
  DS_RETURN_IF_ERROR(Take(j, "c", &r.created_at));
  DS_RETURN_IF_ERROR(Take(j, "r", &r.rev));
  DS_RETURN_IF_ERROR(Take(j, "b", &r.base_rev));
  DS_RETURN_IF_ERROR(Take(j, "sr", &r.server_received_at));
  DS_RETURN_IF_ERROR(Take(j, "x", &r.deleted));
  std::string hlc_prefix;
  DS_RETURN_IF_ERROR(Take(j, "hp", &hlc_prefix));
  if (!hlc_prefix.empty()) r.hlc = hlc_prefix + r.device_id;
  auto am = j.find("am");
  if (am != j.end()) {
    if (!am->is_number_integer()) return DataLossError("record body: 'am' is not an integer");
    r.amends = am->get<int64_t>();
  }
  auto fl = j.find("fl");
  if (fl != j.end()) {
    if (!fl->is_array()) return DataLossError("record body: 'fl' is not a list");
    for (const auto& x : *fl) {
      if (!x.is_string()) return DataLossError("record body: 'fl' holds a non-string");
      r.flags.push_back(x.get<std::string>());
    }
  }
  auto f = j.find("f");
  if (f == j.end() || !f->is_object()) return DataLossError("record body: 'f' is not an object");
  r.fields = std::move(*f);
  if (r.subject_id.empty() || r.status.empty()) return DataLossError("record body lacks its subject or status");
  return r;
}

}  // namespace doorstep::core
