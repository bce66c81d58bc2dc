// Encoding of protocol messages (protocol.h) to CBOR.
#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"
#include "wire_read_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace internal {

namespace {

// Wrapping difference (no overflow); the decoder checks the sum's range.
int64_t Delta(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

}  // namespace

json ToJson(const Mutation& m, const std::string& author, const std::string& device) {
  json j = json::object();
  j["i"] = WireId(m.mutation_id);
  j["r"] = WireId(m.record_id);
  j["y"] = m.type;
  j["s"] = m.subject_id;
  if (m.base_rev != 0) j["b"] = m.base_rev;
  if (m.kind == MutationKind::kResolve) j["k"] = 1;
  if (!m.changes.empty()) {
    json changes = json::object();
    for (const auto& [field, c] : m.changes) changes[field] = json::array({c.from, c.to});
    j["c"] = std::move(changes);
  }
  if (m.status != "draft") j["st"] = m.status == "final" ? json(1) : json(m.status);
  if (m.amends) j["a"] = *m.amends;
  if (!m.flags.empty()) j["fl"] = m.flags;
  if (m.schema_version != 1) j["sv"] = m.schema_version;
  j["h"] = WireHlc(m.hlc, m.device_id, m.updated_at);
  j["ca"] = m.created_at;
  if (m.updated_at != m.created_at) j["ua"] = Delta(m.updated_at, m.created_at);
  if (m.author_id != author) j["au"] = m.author_id;
  if (m.device_id != device) j["d"] = WireId(m.device_id);
  if (m.kind == MutationKind::kResolve) {
    j["ci"] = WireId(m.conflict_id);
    j["pa"] = m.path;
    if (!m.value.is_null()) j["va"] = m.value;
  }
  return j;
}

json WireJson(const MutationResult& r) {
  json j = json::object();
  j["i"] = WireId(r.id);
  if (r.outcome != Outcome::kApplied) j["o"] = static_cast<int>(r.outcome);
  if (r.rev != 0) j["r"] = r.rev;
  if (!r.conflicts.empty()) {
    json ids = json::array();
    for (const std::string& c : r.conflicts) ids.push_back(WireId(c));
    j["cf"] = std::move(ids);
  }
  if (!r.reason.empty()) j["re"] = r.reason;
  if (!r.problems.empty()) {
    json ps = json::array();
    for (const Problem& p : r.problems) ps.push_back({{"pa", p.path}, {"co", p.code}, {"me", p.message}});
    j["pr"] = std::move(ps);
  }
  if (r.server_received_at != 0) j["sr"] = r.server_received_at;
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
  if (r.server_received_at != 0) j["server_received_at"] = r.server_received_at;
  return j;
}

namespace {

// The record's envelope in the wire form; `fields` is added by the caller.
json RecordEnvelope(const PulledRecord& r) {
  json j = json::object();
  j["i"] = WireId(r.id);
  j["y"] = r.type;
  j["s"] = r.subject_id;
  j["r"] = r.rev;
  if (r.status != "draft") j["st"] = r.status == "final" ? json(1) : json(r.status);
  if (!r.flags.empty()) j["fl"] = r.flags;
  if (r.amends) j["a"] = *r.amends;
  if (r.deleted) j["x"] = true;
  j["au"] = r.author_id;
  j["d"] = WireId(r.device_id);
  if (r.schema_version != 1) j["sv"] = r.schema_version;
  j["h"] = WireHlc(r.hlc, r.device_id, r.updated_at);
  j["ca"] = r.created_at;
  if (r.updated_at != r.created_at) j["ua"] = Delta(r.updated_at, r.created_at);
  if (r.server_received_at != r.updated_at) j["sr"] = Delta(r.server_received_at, r.updated_at);
  if (r.base_rev != 0) j["b"] = r.base_rev;
  return j;
}

}  // namespace

json ToJson(const PulledRecord& r) {
  json j = RecordEnvelope(r);
  j["f"] = r.fields;
  return j;
}

json ToJson(PulledRecord&& r) {
  json j = RecordEnvelope(r);
  j["f"] = std::move(r.fields);
  return j;
}

json PushToJson(const Push& p) {
  // The author and device that most mutations carry (in practice all).
  std::string author = p.m.empty() ? std::string() : p.m.front().author_id;
  std::string device = p.m.empty() ? std::string() : p.m.front().device_id;
  json arr = json::array();
  for (const Mutation& x : p.m) arr.push_back(ToJson(x, author, device));
  json j = {{"t", "push"}, {"m", std::move(arr)}};
  if (!p.m.empty()) {
    j["au"] = author;
    j["d"] = WireId(device);
  }
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
    // `since` and `pending` keep protocol 1's keys, so a protocol 1 server
    // reads this far and answers unsupported_version.
    json j = {{"t", "hello"}, {"v", m.v}, {"since", m.since}, {"pending", m.pending}};
    if (m.pull) j["p"] = true;
    if (m.max != 0) j["m"] = m.max;
    if (m.records_pushed) j["rp"] = true;
    return j;
  }
  json operator()(const Welcome& m) const {
    return {{"t", "welcome"}, {"v", m.v}, {"p", m.practitioner},
            {"r", m.role}, {"d", internal::WireId(m.device_id)}, {"tm", m.time}};
  }
  json operator()(const Push& m) const { return internal::PushToJson(m); }
  json operator()(const Pushed& m) const {
    json arr = json::array();
    for (const MutationResult& x : m.r) arr.push_back(internal::WireJson(x));
    return {{"t", "pushed"}, {"r", std::move(arr)}};
  }
  json operator()(const Pull& m) const {
    json j = {{"t", "pull"}};
    if (m.since != 0) j["s"] = m.since;
    if (m.max != 0) j["m"] = m.max;
    return j;
  }
  json operator()(const Bye&) const { return {{"t", "bye"}}; }
  json operator()(const Error& m) const {
    return {{"t", "error"}, {"code", m.code}, {"message", m.message}};
  }
  json operator()(const Batch&) const { return nullptr; }  // EncodeBatch
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
// JSON) followed by the raw CBOR records. Empty arrays, checkpoint 0 and
// more=false are left out.
void AppendHead(std::string* out, int major, uint64_t n) {
  int width = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000ULL ? 4 : 8;
  static constexpr unsigned char kInfo[] = {0, 24, 25, 0, 26, 0, 0, 0, 27};
  out->push_back(static_cast<char>((major << 5) | (width == 0 ? n : kInfo[width])));
  for (int i = width - 1; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
}

std::string EncodeBatch(const json& recs, const Batch& b, const json& cons) {
  const uint64_t n = recs.size() + b.raw_records.size();
  const uint64_t pairs = 1 + (n != 0) + !cons.empty() + !b.purge.empty() + (b.checkpoint != 0) + b.more;
  std::string out;
  AppendHead(&out, 5, pairs);
  AppendCbor(&out, "t");
  AppendCbor(&out, "batch");
  if (n != 0) {
    AppendCbor(&out, "rs");
    AppendHead(&out, 4, n);
    for (const json& r : recs) AppendCbor(&out, r);
    for (const std::string& r : b.raw_records) out += r;
  }
  if (!cons.empty()) {
    AppendCbor(&out, "cs");
    AppendCbor(&out, cons);
  }
  if (!b.purge.empty()) {
    AppendCbor(&out, "pg");
    AppendCbor(&out, b.purge);
  }
  if (b.checkpoint != 0) {
    AppendCbor(&out, "c");
    AppendCbor(&out, b.checkpoint);
  }
  if (b.more) {
    AppendCbor(&out, "mo");
    AppendCbor(&out, true);
  }
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
  if (const Push* p = std::get_if<Push>(&msg)) return internal::EncodePush(*p);
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
