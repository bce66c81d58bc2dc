// Encoding of protocol messages (protocol.h) to CBOR.
#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace {

json OptInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

namespace internal {

json ToJson(const Mutation& m) {
  json changes = json::object();
  for (const auto& [field, c] : m.changes) changes[field] = {{"from", c.from}, {"to", c.to}};
  json j = {{"mutation_id", m.mutation_id}, {"record_id", m.record_id}, {"type", m.type},
            {"subject_id", m.subject_id}, {"base_rev", m.base_rev},
            {"kind", m.kind == MutationKind::kResolve ? "resolve" : "put"},
            {"changes", std::move(changes)}, {"status", m.status}, {"amends", OptInt(m.amends)},
            {"flags", m.flags}, {"schema_version", m.schema_version}, {"hlc", m.hlc},
            {"created_at", m.created_at}, {"updated_at", m.updated_at},
            {"author_id", m.author_id}, {"device_id", m.device_id}};
  if (m.kind == MutationKind::kResolve) {
    j["conflict_id"] = m.conflict_id;
    j["path"] = m.path;
    j["value"] = m.value;
  }
  return j;
}

json ToJson(const MutationResult& r) {
  json j = {{"id", r.id}, {"outcome", OutcomeName(r.outcome)}, {"rev", r.rev}};
  if (!r.conflicts.empty()) j["conflicts"] = r.conflicts;
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.problems.empty()) {
    json ps = json::array();
    for (const Problem& p : r.problems) {
      ps.push_back({{"path", p.path}, {"code", p.code}, {"message", p.message}});
    }
    j["problems"] = std::move(ps);
  }
  return j;
}

json ToJson(const PulledRecord& r) {
  return {{"id", r.id}, {"type", r.type}, {"subject_id", r.subject_id}, {"rev", r.rev},
          {"status", r.status}, {"flags", r.flags}, {"amends", OptInt(r.amends)},
          {"deleted", r.deleted}, {"author_id", r.author_id}, {"device_id", r.device_id},
          {"schema_version", r.schema_version}, {"hlc", r.hlc}, {"created_at", r.created_at},
          {"updated_at", r.updated_at}, {"server_received_at", r.server_received_at},
          {"base_rev", r.base_rev}, {"fields", r.fields}};
}

json ToJson(PulledRecord&& r) {
  json j = ToJson(static_cast<const PulledRecord&>(PulledRecord{}));
  j["id"] = std::move(r.id);
  j["type"] = std::move(r.type);
  j["subject_id"] = std::move(r.subject_id);
  j["rev"] = r.rev;
  j["status"] = std::move(r.status);
  j["flags"] = std::move(r.flags);
  j["amends"] = OptInt(r.amends);
  j["deleted"] = r.deleted;
  j["author_id"] = std::move(r.author_id);
  j["device_id"] = std::move(r.device_id);
  j["schema_version"] = r.schema_version;
  j["hlc"] = std::move(r.hlc);
  j["created_at"] = r.created_at;
  j["updated_at"] = r.updated_at;
  j["server_received_at"] = r.server_received_at;
  j["base_rev"] = r.base_rev;
  j["fields"] = std::move(r.fields);
  return j;
}

json ToJson(const ConflictInfo& c) {
  return {{"conflict_id", c.conflict_id}, {"record_id", c.record_id},
          {"subject_id", c.subject_id}, {"type", c.type}, {"path", c.path},
          {"base", c.base}, {"server", c.server}, {"device", c.device},
          {"server_author", c.server_author}, {"device_author", c.device_author},
          {"server_time", c.server_time}, {"device_time", c.device_time},
          {"base_rev", c.base_rev},
          {"state", c.state == ConflictState::kOpen ? "open" : "resolved"},
          {"resolution", c.resolution}};
}

}  // namespace internal

namespace {

struct Encoder {
  json operator()(const Hello& m) const {
    json j = {{"t", "hello"}, {"v", m.v}, {"since", m.since}, {"pending", m.pending}};
    if (m.pull) j["pull"] = true;
    if (m.max != 0) j["max"] = m.max;
    return j;
  }
  json operator()(const Welcome& m) const {
    return {{"t", "welcome"}, {"v", m.v}, {"practitioner", m.practitioner},
            {"role", m.role}, {"device", m.device_id}, {"time", m.time}};
  }
  json operator()(const Push& m) const {
    json arr = json::array();
    for (const Mutation& x : m.m) arr.push_back(internal::ToJson(x));
    return {{"t", "push"}, {"m", std::move(arr)}};
  }
  json operator()(const Pushed& m) const {
    json arr = json::array();
    for (const MutationResult& x : m.r) arr.push_back(internal::ToJson(x));
    return {{"t", "pushed"}, {"r", std::move(arr)}};
  }
  json operator()(const Pull& m) const {
    json j = {{"t", "pull"}, {"since", m.since}};
    if (m.max != 0) j["max"] = m.max;
    return j;
  }
  json operator()(const Batch& m) const {
    json recs = json::array();
    for (const PulledRecord& r : m.records) recs.push_back(internal::ToJson(r));
    json cons = json::array();
    for (const ConflictInfo& c : m.conflicts) cons.push_back(internal::ToJson(c));
    return {{"t", "batch"}, {"records", std::move(recs)}, {"conflicts", std::move(cons)},
            {"purge", m.purge}, {"checkpoint", m.checkpoint}, {"more", m.more}};
  }
  json operator()(const Bye&) const { return {{"t", "bye"}}; }
  json operator()(const Error& m) const {
    return {{"t", "error"}, {"code", m.code}, {"message", m.message}};
  }
};

struct Namer {
  const char* operator()(const Hello&) const { return "hello"; }
  const char* operator()(const Welcome&) const { return "welcome"; }
  const char* operator()(const Push&) const { return "push"; }
  const char* operator()(const Pushed&) const { return "pushed"; }
  const char* operator()(const Pull&) const { return "pull"; }
  const char* operator()(const Batch&) const { return "batch"; }
  const char* operator()(const Bye&) const { return "bye"; }
  const char* operator()(const Error&) const { return "error"; }
};

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kApplied: return "applied";
    case Outcome::kMerged: return "merged";
    case Outcome::kConflict: return "conflict";
    case Outcome::kRejected: return "rejected";
  }
  return "rejected";
}

const char* MessageTypeName(const Message& msg) { return std::visit(Namer{}, msg); }

namespace {

void AppendCbor(std::string* out, const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  out->append(v.begin(), v.end());
}

// A batch as one CBOR map, its record array holding `recs` (already encoded
// JSON) followed by the raw CBOR records.
std::string EncodeBatch(const json& recs, const Batch& b, const json& cons) {
  std::string out;
  out.push_back(static_cast<char>(0xA6));  // map of 6 pairs
  AppendCbor(&out, "t");
  AppendCbor(&out, "batch");
  AppendCbor(&out, "records");
  uint64_t n = recs.size() + b.raw_records.size();
  // Array header in its shortest form (major type 4).
  int width = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000ULL ? 4 : 8;
  static constexpr unsigned char kLead[] = {0, 0x98, 0x99, 0, 0x9A, 0, 0, 0, 0x9B};
  out.push_back(static_cast<char>(width == 0 ? 0x80 + n : kLead[width]));
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  for (const json& r : recs) AppendCbor(&out, r);
  for (const std::string& r : b.raw_records) out += r;
  AppendCbor(&out, "conflicts");
  AppendCbor(&out, cons);
  AppendCbor(&out, "purge");
  AppendCbor(&out, b.purge);
  AppendCbor(&out, "checkpoint");
  AppendCbor(&out, b.checkpoint);
  AppendCbor(&out, "more");
  AppendCbor(&out, b.more);
  return out;
}

}  // namespace

std::string Encode(const Message& msg) {
  if (const Batch* b = std::get_if<Batch>(&msg)) {
    json recs = json::array();
    for (const PulledRecord& r : b->records) recs.push_back(internal::ToJson(r));
    json cons = json::array();
    for (const ConflictInfo& c : b->conflicts) cons.push_back(internal::ToJson(c));
    return EncodeBatch(recs, *b, cons);
  }
  std::vector<uint8_t> bytes = json::to_cbor(std::visit(Encoder{}, msg));
  return std::string(bytes.begin(), bytes.end());
}

std::string Encode(Message&& msg) {
  Batch* b = std::get_if<Batch>(&msg);
  if (b == nullptr) return Encode(static_cast<const Message&>(msg));
  json recs = json::array();
  for (PulledRecord& r : b->records) recs.push_back(internal::ToJson(std::move(r)));
  json cons = json::array();
  for (const ConflictInfo& c : b->conflicts) cons.push_back(internal::ToJson(c));
  return EncodeBatch(recs, *b, cons);
}

}  // namespace doorstep::sync
