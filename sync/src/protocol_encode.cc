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

std::string Encode(const Message& msg) {
  std::vector<uint8_t> bytes = json::to_cbor(std::visit(Encoder{}, msg));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace doorstep::sync
