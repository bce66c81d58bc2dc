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

bool IsToken(std::string_view s) { return IsTokenId(s); }
bool IsHex(std::string_view s) { return IsHexId(s); }

std::string Index(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

// Protocol 2's status: absent = draft, 1 = final.
Status StatusCode2(const WireMap& w, std::string* out) {
  const json* v = w.Find("st");
  if (v == nullptr) {
    *out = "draft";
    return Status::Ok();
  }
  if (!v->is_number_integer() || v->get<int64_t>() != 1) return InvalidArgumentError(w.At("st") + ": not 1 (final)");
  *out = "final";
  return Status::Ok();
}

// A time sent as a difference from `base`: absent = 0; the sum must be a time.
Status TimeDelta(const WireMap& w, const char* key, int64_t base, int64_t* out) {
  int64_t d = 0;
  DS_RETURN_IF_ERROR(w.Int(key, -kMaxCount, kMaxCount, &d, /*required=*/false));
  if (base + d < 0 || base + d > kMaxCount) return InvalidArgumentError(w.At(key) + ": out of range");
  *out = base + d;
  return Status::Ok();
}

Result<Problem> ProblemFromWire(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  Problem p;
  DS_RETURN_IF_ERROR(w.String("pa", kMaxPathBytes, &p.path));
  DS_RETURN_IF_ERROR(w.String("co", kMaxTokenBytes, &p.code));
  DS_RETURN_IF_ERROR(w.String("me", kMaxTextBytes, &p.message));
  return p;
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

// `where` names the value in an error; it is turned into a string only then.
Status CheckValueRec(const json& v, size_t depth, size_t* bytes, std::string_view where) {
  if (depth > kMaxValueDepth) return InvalidArgumentError(std::string(where) + ": nested too deep");
  switch (v.type()) {
    case json::value_t::string:
      *bytes += v.get_ref<const std::string&>().size();
      break;
    case json::value_t::binary:
    case json::value_t::discarded:
      return InvalidArgumentError(std::string(where) + ": not a JSON value");
    case json::value_t::number_float:
      if (!std::isfinite(v.get<double>())) return InvalidArgumentError(std::string(where) + ": not finite");
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
  if (*bytes > kMaxValueBytes) return InvalidArgumentError(std::string(where) + ": value too large");
  return Status::Ok();
}

}  // namespace

Status CheckValue(const json& value, std::string_view where) {
  size_t bytes = 0;
  return CheckValueRec(value, 0, &bytes, where);
}

namespace internal {

Result<Mutation> MutationFromJson(json& j, const std::string& path, const std::string& author,
                                  const std::string& device) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  Mutation m;
  DS_RETURN_IF_ERROR(w.IdBytes("i", &m.mutation_id));
  DS_RETURN_IF_ERROR(w.IdBytes("r", &m.record_id));
  DS_RETURN_IF_ERROR(w.Token("y", &m.type));
  DS_RETURN_IF_ERROR(w.Token("s", &m.subject_id));
  DS_RETURN_IF_ERROR(w.Int("b", 0, kMaxCount, &m.base_rev, /*required=*/false));
  int64_t kind = 0;
  DS_RETURN_IF_ERROR(w.Int("k", 0, 1, &kind, /*required=*/false));
  m.kind = kind == 1 ? MutationKind::kResolve : MutationKind::kPut;
  // `j` is the caller's own: the changed values are moved out of it.
  if (json* changes = const_cast<json*>(w.Find("c"))) {
    if (!changes->is_object()) return InvalidArgumentError(w.At("c") + ": not a map");
    if (changes->size() > kMaxChangesPerMutation) return ResourceExhaustedError(w.At("c") + ": too many fields");
    for (auto it = changes->begin(); it != changes->end(); ++it) {
      const std::string& field = it.key();
      json& c = it.value();
      // The path is spelled out only for an error.
      auto where = [&] { return w.At("c") + "." + (IsFieldPath(field) ? field : std::string("?")); };
      if (!IsFieldPath(field)) return InvalidArgumentError(where() + ": bad field name");
      if (!c.is_array() || c.size() != 2) return InvalidArgumentError(where() + ": not [from, to]");
      DS_RETURN_IF_ERROR(CheckValueAt(c[0], [&] { return where() + "[0]"; }));
      DS_RETURN_IF_ERROR(CheckValueAt(c[1], [&] { return where() + "[1]"; }));
      m.changes.emplace(field, FieldChange{std::move(c[0]), std::move(c[1])});
    }
  }
  DS_RETURN_IF_ERROR(StatusCode2(w, &m.status));
  DS_RETURN_IF_ERROR(w.OptInt("a", 1, kMaxCount, &m.amends));
  DS_RETURN_IF_ERROR(w.StringList("fl", kMaxFlags, kMaxTokenBytes, IsToken, &m.flags, /*required=*/false));
  DS_RETURN_IF_ERROR(w.Int("sv", 1, 1000000, &m.schema_version, /*required=*/false));
  DS_RETURN_IF_ERROR(w.Int("ca", 0, kMaxCount, &m.created_at));
  DS_RETURN_IF_ERROR(TimeDelta(w, "ua", m.created_at, &m.updated_at));
  m.author_id = author;
  DS_RETURN_IF_ERROR(w.Token("au", &m.author_id, /*required=*/false));
  if (!IsTokenId(m.author_id)) return InvalidArgumentError(w.At("au") + ": missing");
  m.device_id = device;
  DS_RETURN_IF_ERROR(w.IdBytes("d", &m.device_id, /*required=*/false));
  if (!IsHexId(m.device_id)) return InvalidArgumentError(w.At("d") + ": missing");
  const json* h = w.Find("h");
  if (h == nullptr) return InvalidArgumentError(w.At("h") + ": missing");
  DS_RETURN_IF_ERROR(internal::HlcFromWire(*h, m.device_id, m.updated_at, w.At("h"), &m.hlc));
  if (m.kind == MutationKind::kResolve) {
    DS_RETURN_IF_ERROR(w.IdBytes("ci", &m.conflict_id));
    DS_RETURN_IF_ERROR(w.String("pa", kMaxPathBytes, &m.path));
    if (!IsFieldPath(m.path)) return InvalidArgumentError(w.At("pa") + ": not a field path");
    DS_RETURN_IF_ERROR(w.Value("va", &m.value));
  }
  return m;
}

Result<MutationResult> MutationResultFromWire(const json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  MutationResult r;
  DS_RETURN_IF_ERROR(w.IdBytes("i", &r.id));
  int64_t outcome = 0;
  DS_RETURN_IF_ERROR(w.Int("o", 0, 3, &outcome, /*required=*/false));
  r.outcome = static_cast<Outcome>(outcome);
  DS_RETURN_IF_ERROR(w.Int("r", 0, kMaxCount, &r.rev, /*required=*/false));
  const json* ids = nullptr;
  DS_RETURN_IF_ERROR(w.Array("cf", kMaxConflictIdsPerResult, &ids, /*required=*/false));
  if (ids != nullptr) {
    for (size_t i = 0; i < ids->size(); ++i) {
      std::string id;
      if (!IdFromWire((*ids)[i], &id)) return InvalidArgumentError(Index(w.At("cf"), i) + ": not a 16-byte id");
      r.conflicts.push_back(std::move(id));
    }
  }
  DS_RETURN_IF_ERROR(w.String("re", kMaxTextBytes, &r.reason, /*required=*/false));
  const json* problems = nullptr;
  DS_RETURN_IF_ERROR(w.Array("pr", kMaxProblems, &problems, /*required=*/false));
  if (problems != nullptr) {
    for (size_t i = 0; i < problems->size(); ++i) {
      DS_ASSIGN_OR_RETURN(Problem p, ProblemFromWire((*problems)[i], Index(w.At("pr"), i)));
      r.problems.push_back(std::move(p));
    }
  }
  DS_RETURN_IF_ERROR(w.Int("sr", 0, kMaxCount, &r.server_received_at, /*required=*/false));
  return r;
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
  DS_RETURN_IF_ERROR(w.Int("server_received_at", 0, kMaxCount, &r.server_received_at, /*required=*/false));
  return r;
}

Result<PulledRecord> PulledRecordFromWire(json& j, const std::string& path) {
  DS_ASSIGN_OR_RETURN(WireMap w, WireMap::Of(j, path));
  PulledRecord r;
  DS_RETURN_IF_ERROR(w.IdBytes("i", &r.id));
  DS_RETURN_IF_ERROR(w.Token("y", &r.type));
  DS_RETURN_IF_ERROR(w.Token("s", &r.subject_id));
  DS_RETURN_IF_ERROR(w.Int("r", 1, kMaxCount, &r.rev));
  DS_RETURN_IF_ERROR(StatusCode2(w, &r.status));
  DS_RETURN_IF_ERROR(w.StringList("fl", kMaxFlags, kMaxTokenBytes, IsToken, &r.flags, /*required=*/false));
  DS_RETURN_IF_ERROR(w.OptInt("a", 1, kMaxCount, &r.amends));
  DS_RETURN_IF_ERROR(w.Bool("x", &r.deleted, /*required=*/false));
  DS_RETURN_IF_ERROR(w.Token("au", &r.author_id));
  DS_RETURN_IF_ERROR(w.IdBytes("d", &r.device_id));
  DS_RETURN_IF_ERROR(w.Int("sv", 1, 1000000, &r.schema_version, /*required=*/false));
  DS_RETURN_IF_ERROR(w.Int("ca", 0, kMaxCount, &r.created_at));
  DS_RETURN_IF_ERROR(TimeDelta(w, "ua", r.created_at, &r.updated_at));
  DS_RETURN_IF_ERROR(TimeDelta(w, "sr", r.updated_at, &r.server_received_at));
  DS_RETURN_IF_ERROR(w.Int("b", 0, kMaxCount, &r.base_rev, /*required=*/false));
  const json* h = w.Find("h");
  if (h == nullptr) return InvalidArgumentError(w.At("h") + ": missing");
  DS_RETURN_IF_ERROR(internal::HlcFromWire(*h, r.device_id, r.updated_at, w.At("h"), &r.hlc));
  auto it = j.find("f");
  if (it == j.end()) return InvalidArgumentError(w.At("f") + ": missing");
  json& fields = *it;
  if (!fields.is_object()) return InvalidArgumentError(w.At("f") + ": not a map");
  if (fields.size() > kMaxFieldsPerRecord) return ResourceExhaustedError(w.At("f") + ": too many");
  for (const auto& item : fields.items()) {
    // A named reference, not a structured binding: C++17 does not let a
    // lambda capture a binding (clang refuses it; scripts/fuzz builds with clang).
    const std::string& k = item.key();
    if (!IsFieldPath(k)) return InvalidArgumentError(w.At("f") + ": bad field name");
    // The field's path is spelled out only for an error (this runs for every
    // field of every pulled record).
    DS_RETURN_IF_ERROR(CheckValueAt(item.value(), [&] { return w.At("f") + "." + k; }));
  }
  r.fields = std::move(fields);
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
  if (!IsFieldPath(c.path)) return InvalidArgumentError(w.At("path") + ": not a field path");
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
    // Another version's hello is read no further: the server answers it
    // with unsupported_version, whatever else that version sends.
    if (m.v != kProtocolVersion) return Message(Hello{m.v, 0, 0, false, 0, false});
    DS_RETURN_IF_ERROR(w.Uint("since", kMaxCount, &m.since));
    DS_RETURN_IF_ERROR(w.Uint("pending", kMaxCount, &m.pending));
    DS_RETURN_IF_ERROR(w.Bool("p", &m.pull, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Uint("m", kMaxRecordsPerBatch, &m.max, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Bool("rp", &m.records_pushed, /*required=*/false));
    return Message(std::move(m));
  }
  if (t == "welcome") {
    Welcome m;
    DS_RETURN_IF_ERROR(w.Int("v", 0, 1000000, &m.v));
    DS_RETURN_IF_ERROR(w.Token("p", &m.practitioner));
    DS_RETURN_IF_ERROR(w.Token("r", &m.role));
    DS_RETURN_IF_ERROR(w.IdBytes("d", &m.device_id));
    DS_RETURN_IF_ERROR(w.Int("tm", 0, kMaxCount, &m.time));
    return Message(std::move(m));
  }
  if (t == "push") {
    if (bytes.size() > kMaxPushBytes) return ResourceExhaustedError("push: larger than 4 MiB");
    const json* arr = nullptr;
    DS_RETURN_IF_ERROR(w.Array("m", kMaxMutationsPerPush, &arr));
    std::string author, device;
    if (!arr->empty()) {
      DS_RETURN_IF_ERROR(w.Token("au", &author));
      DS_RETURN_IF_ERROR(w.IdBytes("d", &device));
    }
    Push m;
    m.m.reserve(arr->size());
    for (size_t i = 0; i < arr->size(); ++i) {
      // `j` is this function's own copy: the changed values may move out.
      json& mj = const_cast<json&>((*arr)[i]);
      DS_ASSIGN_OR_RETURN(Mutation x, internal::MutationFromJson(mj, Index("push.m", i), author, device));
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
                          internal::MutationResultFromWire((*arr)[i], Index("pushed.r", i)));
      m.r.push_back(std::move(x));
    }
    return Message(std::move(m));
  }
  if (t == "pull") {
    Pull m;
    DS_RETURN_IF_ERROR(w.Uint("s", kMaxCount, &m.since, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Uint("m", kMaxRecordsPerBatch, &m.max, /*required=*/false));
    return Message(std::move(m));
  }
  if (t == "batch") {
    Batch m;
    const json* recs = nullptr;
    DS_RETURN_IF_ERROR(w.Array("rs", kMaxRecordsPerBatch, &recs, /*required=*/false));
    if (recs != nullptr) {
      m.records.reserve(recs->size());
      for (size_t i = 0; i < recs->size(); ++i) {
        // `j` is this function's own copy: the record's fields may move out.
        json& rec = const_cast<json&>((*recs)[i]);
        DS_ASSIGN_OR_RETURN(PulledRecord r, internal::PulledRecordFromWire(rec, Index("batch.rs", i)));
        m.records.push_back(std::move(r));
      }
    }
    const json* cons = nullptr;
    DS_RETURN_IF_ERROR(w.Array("cs", kMaxConflictsPerBatch, &cons, /*required=*/false));
    if (cons != nullptr) {
      for (size_t i = 0; i < cons->size(); ++i) {
        DS_ASSIGN_OR_RETURN(ConflictInfo c, internal::ConflictInfoFromJson((*cons)[i], Index("batch.cs", i)));
        m.conflicts.push_back(std::move(c));
      }
    }
    DS_RETURN_IF_ERROR(w.StringList("pg", kMaxPurgePerBatch, kMaxTokenBytes, IsToken, &m.purge, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Uint("c", kMaxCount, &m.checkpoint, /*required=*/false));
    DS_RETURN_IF_ERROR(w.Bool("mo", &m.more, /*required=*/false));
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

namespace doorstep::sync::internal {

bool IsFieldPath(std::string_view s) {
  if (s.empty() || s.size() > kMaxPathBytes) return false;
  for (char c : s) {
    // ASCII only, whatever the locale (std::isalnum would follow it).
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace doorstep::sync::internal
