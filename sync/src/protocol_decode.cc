// Decoding of protocol messages (protocol.h) from untrusted CBOR.
#include <cctype>
#include <cmath>

#include "cbor_internal.h"
#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"
#include "wire_read_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;
using internal::WireMap;

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 53;  // revs, times, versions

bool IsStatus(std::string_view s) { return s == "draft" || s == "final"; }
bool IsToken(std::string_view s) { return IsTokenId(s); }
bool IsHex(std::string_view s) { return IsHexId(s); }
bool IsPath(std::string_view s) {
  if (s.empty() || s.size() > kMaxPathBytes) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

std::string Index(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

Status StatusField(const WireMap& w, const char* key, std::string* out) {
  DS_RETURN_IF_ERROR(w.String(key, 8, out));
  if (!IsStatus(*out)) return InvalidArgumentError(w.At(key) + ": not draft or final");
  return Status::Ok();
}

Result<Problem> ProblemFromJson(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  Problem p;
  DS_RETURN_IF_ERROR(w.String("path", kMaxPathBytes, &p.path));
  DS_RETURN_IF_ERROR(w.String("code", kMaxTokenBytes, &p.code));
  DS_RETURN_IF_ERROR(w.String("message", kMaxTextBytes, &p.message));
  return p;
}

}  // namespace

bool IsHexId(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsTokenId(std::string_view s) {
  if (s.empty() || s.size() > kMaxTokenBytes) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

namespace {

Status CheckValueRec(const json& v, size_t depth, size_t* bytes, const std::string& where) {
  if (depth > kMaxValueDepth) return InvalidArgumentError(where + ": nested too deep");
  switch (v.type()) {
    case json::value_t::string:
      *bytes += v.get_ref<const std::string&>().size();
      break;
    case json::value_t::binary:
    case json::value_t::discarded:
      return InvalidArgumentError(where + ": not a JSON value");
    case json::value_t::number_float:
      if (!std::isfinite(v.get<double>())) return InvalidArgumentError(where + ": not finite");
      break;
    case json::value_t::object:
      for (const auto& [k, e] : v.items()) {
        *bytes += k.size();
        DS_RETURN_IF_ERROR(CheckValueRec(e, depth + 1, bytes, where));
      }
      break;
    case json::value_t::array:
      for (const json& e : v) DS_RETURN_IF_ERROR(CheckValueRec(e, depth + 1, bytes, where));
      break;
    default:
      break;
  }
  if (*bytes > kMaxValueBytes) return InvalidArgumentError(where + ": value too large");
  return Status::Ok();
}

}  // namespace

Status CheckValue(const json& value, std::string_view where) {
  size_t bytes = 0;
  return CheckValueRec(value, 0, &bytes, std::string(where));
}

namespace internal {

Result<Mutation> MutationFromJson(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  Mutation m;
  DS_RETURN_IF_ERROR(w.HexId("mutation_id", &m.mutation_id));
  DS_RETURN_IF_ERROR(w.HexId("record_id", &m.record_id));
  DS_RETURN_IF_ERROR(w.Token("type", &m.type));
  DS_RETURN_IF_ERROR(w.Token("subject_id", &m.subject_id));
  DS_RETURN_IF_ERROR(w.Int("base_rev", 0, kMaxCount, &m.base_rev));
  std::string kind;
  DS_RETURN_IF_ERROR(w.String("kind", 16, &kind));
  if (kind == "put") {
    m.kind = MutationKind::kPut;
  } else if (kind == "resolve") {
    m.kind = MutationKind::kResolve;
  } else {
    return InvalidArgumentError(w.At("kind") + ": not put or resolve");
  }
  const json* changes = w.Find("changes");
  if (changes == nullptr) return InvalidArgumentError(w.At("changes") + ": missing");
  if (!changes->is_object()) return InvalidArgumentError(w.At("changes") + ": not a map");
  if (changes->size() > kMaxChangesPerMutation) {
    return ResourceExhaustedError(w.At("changes") + ": too many fields");
  }
  for (const auto& [field, c] : changes->items()) {
    std::string where = w.At("changes") + "." + (IsPath(field) ? field : std::string("?"));
    if (!IsPath(field)) return InvalidArgumentError(where + ": bad field name");
    DS_ASSIGN_OR_RETURN(WireMap cw, WireMap::Of(c, where));
    FieldChange fc;
    DS_RETURN_IF_ERROR(cw.Value("from", &fc.from));
    DS_RETURN_IF_ERROR(cw.Value("to", &fc.to));
    m.changes.emplace(field, std::move(fc));
  }
  DS_RETURN_IF_ERROR(StatusField(w, "status", &m.status));
  DS_RETURN_IF_ERROR(w.OptInt("amends", 1, kMaxCount, &m.amends));
  DS_RETURN_IF_ERROR(w.StringList("flags", kMaxFlags, kMaxTokenBytes, IsToken, &m.flags));
  DS_RETURN_IF_ERROR(w.Int("schema_version", 1, 1000000, &m.schema_version));
  DS_RETURN_IF_ERROR(w.String("hlc", kMaxHlcBytes, &m.hlc));
  DS_RETURN_IF_ERROR(w.Int("created_at", 0, kMaxCount, &m.created_at));
  DS_RETURN_IF_ERROR(w.Int("updated_at", 0, kMaxCount, &m.updated_at));
  DS_RETURN_IF_ERROR(w.Token("author_id", &m.author_id));
  DS_RETURN_IF_ERROR(w.HexId("device_id", &m.device_id));
  if (m.kind == MutationKind::kResolve) {
    DS_RETURN_IF_ERROR(w.HexId("conflict_id", &m.conflict_id));
    DS_RETURN_IF_ERROR(w.String("path", kMaxPathBytes, &m.path));
    if (!IsPath(m.path)) return InvalidArgumentError(w.At("path") + ": not a field path");
    DS_RETURN_IF_ERROR(w.Value("value", &m.value));
  }
  return m;
}

Result<MutationResult> MutationResultFromJson(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  MutationResult r;
  DS_RETURN_IF_ERROR(w.HexId("id", &r.id));
  std::string outcome;
  DS_RETURN_IF_ERROR(w.String("outcome", 16, &outcome));
  if (outcome == "applied") r.outcome = Outcome::kApplied;
  else if (outcome == "merged") r.outcome = Outcome::kMerged;
  else if (outcome == "conflict") r.outcome = Outcome::kConflict;
  else if (outcome == "rejected") r.outcome = Outcome::kRejected;
  else return InvalidArgumentError(w.At("outcome") + ": unknown outcome");
  DS_RETURN_IF_ERROR(w.Int("rev", 0, kMaxCount, &r.rev));
  DS_RETURN_IF_ERROR(w.StringList("conflicts", kMaxConflictIdsPerResult, 32, IsHex, &r.conflicts,
                                  /*required=*/false));
  DS_RETURN_IF_ERROR(w.String("reason", kMaxTextBytes, &r.reason, /*required=*/false));
  const json* problems = nullptr;
  DS_RETURN_IF_ERROR(w.Array("problems", kMaxProblems, &problems, /*required=*/false));
  if (problems != nullptr) {
    for (size_t i = 0; i < problems->size(); ++i) {
      DS_ASSIGN_OR_RETURN(Problem p, ProblemFromJson((*problems)[i], Index(w.At("problems"), i)));
      r.problems.push_back(std::move(p));
    }
  }
  return r;
}

Result<PulledRecord> PulledRecordFromJson(json& j, const std::string& path) {
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
    if (!IsPath(k)) return InvalidArgumentError(w.At("fields") + ": bad field name");
    DS_RETURN_IF_ERROR(CheckValue(v, w.At("fields") + "." + k));
  }
  r.fields = std::move(*fields);
  return r;
}

Result<ConflictInfo> ConflictInfoFromJson(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  ConflictInfo c;
  DS_RETURN_IF_ERROR(w.HexId("conflict_id", &c.conflict_id));
  DS_RETURN_IF_ERROR(w.HexId("record_id", &c.record_id));
  DS_RETURN_IF_ERROR(w.Token("subject_id", &c.subject_id));
  DS_RETURN_IF_ERROR(w.Token("type", &c.type));
  DS_RETURN_IF_ERROR(w.String("path", kMaxPathBytes, &c.path));
  if (!IsPath(c.path)) return InvalidArgumentError(w.At("path") + ": not a field path");
  DS_RETURN_IF_ERROR(w.Value("base", &c.base));
  DS_RETURN_IF_ERROR(w.Value("server", &c.server));
  DS_RETURN_IF_ERROR(w.Value("device", &c.device));
  DS_RETURN_IF_ERROR(w.Token("server_author", &c.server_author));
  DS_RETURN_IF_ERROR(w.Token("device_author", &c.device_author));
  DS_RETURN_IF_ERROR(w.Int("server_time", 0, kMaxCount, &c.server_time));
  DS_RETURN_IF_ERROR(w.Int("device_time", 0, kMaxCount, &c.device_time));
  DS_RETURN_IF_ERROR(w.Int("base_rev", 0, kMaxCount, &c.base_rev));
  std::string state;
  DS_RETURN_IF_ERROR(w.String("state", 16, &state));
  if (state == "open") c.state = ConflictState::kOpen;
  else if (state == "resolved") c.state = ConflictState::kResolved;
  else return InvalidArgumentError(w.At("state") + ": not open or resolved");
  DS_RETURN_IF_ERROR(w.Value("resolution", &c.resolution));
  return c;
}

}  // namespace internal

Result<Message> Decode(std::string_view bytes) {
  internal::CborLimits limits;
  limits.max_bytes = kMaxMessageBytes;
  limits.max_string = kMaxStringBytes;
  DS_ASSIGN_OR_RETURN(json j, internal::ParseCbor(bytes, limits));
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, "message"));
  std::string t;
  DS_RETURN_IF_ERROR(w.String("t", 16, &t));
  if (t == "hello") {
    Hello m;
    DS_RETURN_IF_ERROR(w.Int("v", 0, 1000000, &m.v));
    DS_RETURN_IF_ERROR(w.Uint("since", kMaxCount, &m.since));
    DS_RETURN_IF_ERROR(w.Uint("pending", kMaxCount, &m.pending));
    DS_RETURN_IF_ERROR(w.Bool("pull", &m.pull, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Uint("max", kMaxRecordsPerBatch, &m.max, /*required=*/false));
    return Message(std::move(m));
  }
  if (t == "welcome") {
    Welcome m;
    DS_RETURN_IF_ERROR(w.Int("v", 0, 1000000, &m.v));
    DS_RETURN_IF_ERROR(w.Token("practitioner", &m.practitioner));
    DS_RETURN_IF_ERROR(w.Token("role", &m.role));
    DS_RETURN_IF_ERROR(w.HexId("device", &m.device_id));
    DS_RETURN_IF_ERROR(w.Int("time", 0, kMaxCount, &m.time));
    return Message(std::move(m));
  }
  if (t == "push") {
    if (bytes.size() > kMaxPushBytes) return ResourceExhaustedError("push: larger than 4 MiB");
    const json* arr = nullptr;
    DS_RETURN_IF_ERROR(w.Array("m", kMaxMutationsPerPush, &arr));
    Push m;
    m.m.reserve(arr->size());
    for (size_t i = 0; i < arr->size(); ++i) {
      DS_ASSIGN_OR_RETURN(Mutation x, internal::MutationFromJson((*arr)[i], Index("push.m", i)));
      m.m.push_back(std::move(x));
    }
    return Message(std::move(m));
  }
  if (t == "pushed") {
    const json* arr = nullptr;
    DS_RETURN_IF_ERROR(w.Array("r", kMaxResultsPerPushed, &arr));
    Pushed m;
    for (size_t i = 0; i < arr->size(); ++i) {
      DS_ASSIGN_OR_RETURN(MutationResult x,
                          internal::MutationResultFromJson((*arr)[i], Index("pushed.r", i)));
      m.r.push_back(std::move(x));
    }
    return Message(std::move(m));
  }
  if (t == "pull") {
    Pull m;
    DS_RETURN_IF_ERROR(w.Uint("since", kMaxCount, &m.since));
    DS_RETURN_IF_ERROR(w.Uint("max", kMaxRecordsPerBatch, &m.max, /*required=*/false));
    return Message(std::move(m));
  }
  if (t == "batch") {
    Batch m;
    const json* recs = nullptr;
    DS_RETURN_IF_ERROR(w.Array("records", kMaxRecordsPerBatch, &recs));
    for (size_t i = 0; i < recs->size(); ++i) {
      // `j` is this function's own copy: the record's fields may move out.
      json& rec = const_cast<json&>((*recs)[i]);
      DS_ASSIGN_OR_RETURN(PulledRecord r, internal::PulledRecordFromJson(rec, Index("batch.records", i)));
      m.records.push_back(std::move(r));
    }
    const json* cons = nullptr;
    DS_RETURN_IF_ERROR(w.Array("conflicts", kMaxConflictsPerBatch, &cons));
    for (size_t i = 0; i < cons->size(); ++i) {
      DS_ASSIGN_OR_RETURN(ConflictInfo c,
                          internal::ConflictInfoFromJson((*cons)[i], Index("batch.conflicts", i)));
      m.conflicts.push_back(std::move(c));
    }
    DS_RETURN_IF_ERROR(w.StringList("purge", kMaxPurgePerBatch, kMaxTokenBytes, IsToken, &m.purge));
    DS_RETURN_IF_ERROR(w.Uint("checkpoint", kMaxCount, &m.checkpoint));
    DS_RETURN_IF_ERROR(w.Bool("more", &m.more));
    return Message(std::move(m));
  }
  if (t == "bye") return Message(Bye{});
  if (t == "error") {
    Error m;
    DS_RETURN_IF_ERROR(w.String("code", kMaxTokenBytes, &m.code));
    DS_RETURN_IF_ERROR(w.String("message", kMaxTextBytes, &m.message));
    return Message(std::move(m));
  }
  return InvalidArgumentError("message.t: unknown message type");
}

std::string EncodeEnrolRequest(const EnrolRequest& req) {
  std::vector<uint8_t> v = json::to_cbor({{"t", "enrol"}, {"code", req.code}, {"device", req.device_id}});
  return std::string(v.begin(), v.end());
}

Result<EnrolRequest> DecodeEnrolRequest(std::string_view bytes) {
  internal::CborLimits limits;
  limits.max_bytes = 1024;
  limits.max_depth = 2;
  limits.max_container = 8;
  DS_ASSIGN_OR_RETURN(json j, internal::ParseCbor(bytes, limits));
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, "enrol"));
  std::string t;
  DS_RETURN_IF_ERROR(w.String("t", 16, &t));
  if (t != "enrol") return InvalidArgumentError("enrol.t: not an enrolment request");
  EnrolRequest req;
  DS_RETURN_IF_ERROR(w.String("code", 64, &req.code));
  DS_RETURN_IF_ERROR(w.HexId("device", &req.device_id));
  return req;
}

}  // namespace doorstep::sync
