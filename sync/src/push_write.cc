// The push message written straight to CBOR (CborWriter), byte for byte what
// json::to_cbor(internal::PushToJson(push)) gives: the same keys, left out
// under the same rules, in nlohmann's (sorted) key order. A device's push is
// its biggest message; building it as a json tree first cost about a third of
// a pushing client's CPU.
#include "cbor_writer.h"
#include "protocol_internal.h"

namespace doorstep::sync::internal {

namespace {

// Wrapping difference (no overflow); the decoder checks the sum's range.
int64_t Delta(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// One mutation, as ToJson(m, author, device); keys in sorted order.
void WriteMutation(CborWriter& w, const Mutation& m, const std::string& author, const std::string& device) {
  const bool resolve = m.kind == MutationKind::kResolve;
  const bool has_ua = m.updated_at != m.created_at;
  const bool has_au = m.author_id != author;
  const bool has_d = m.device_id != device;
  const bool has_st = m.status != "draft";
  const bool has_va = resolve && !m.value.is_null();
  uint64_t pairs = 6;  // i, r, y, s, h, ca
  pairs += (m.base_rev != 0) + resolve + !m.changes.empty() + has_st + m.amends.has_value() +
           !m.flags.empty() + (m.schema_version != 1) + has_ua + has_au + has_d + (resolve ? 2 : 0) + has_va;
  w.MapHead(pairs);
  if (m.amends) {
    w.Text("a");
    w.Int(*m.amends);
  }
  if (has_au) {
    w.Text("au");
    w.Text(m.author_id);
  }
  if (m.base_rev != 0) {
    w.Text("b");
    w.Int(m.base_rev);
  }
  if (!m.changes.empty()) {
    w.Text("c");
    w.MapHead(m.changes.size());
    for (const auto& [field, c] : m.changes) {
      w.Text(field);
      w.ArrayHead(2);
      w.Json(c.from);
      w.Json(c.to);
    }
  }
  w.Text("ca");
  w.Int(m.created_at);
  if (resolve) {
    w.Text("ci");
    w.Id(m.conflict_id);
  }
  if (has_d) {
    w.Text("d");
    w.Id(m.device_id);
  }
  if (!m.flags.empty()) {
    w.Text("fl");
    w.ArrayHead(m.flags.size());
    for (const std::string& f : m.flags) w.Text(f);
  }
  w.Text("h");
  w.Json(WireHlc(m.hlc, m.device_id, m.updated_at));
  w.Text("i");
  w.Id(m.mutation_id);
  if (resolve) {
    w.Text("k");
    w.Int(1);
    w.Text("pa");
    w.Text(m.path);
  }
  w.Text("r");
  w.Id(m.record_id);
  w.Text("s");
  w.Text(m.subject_id);
  if (has_st) {
    w.Text("st");
    if (m.status == "final") {
      w.Int(1);
    } else {
      w.Text(m.status);
    }
  }
  if (m.schema_version != 1) {
    w.Text("sv");
    w.Int(m.schema_version);
  }
  if (has_ua) {
    w.Text("ua");
    w.Int(Delta(m.updated_at, m.created_at));
  }
  if (has_va) {
    w.Text("va");
    w.Json(m.value);
  }
  w.Text("y");
  w.Text(m.type);
}

}  // namespace

std::string EncodePush(const Push& p) {
  std::string out;
  CborWriter w(&out);
  if (p.m.empty()) {
    w.MapHead(2);
    w.Text("m");
    w.ArrayHead(0);
    w.Text("t");
    w.Text("push");
    return out;
  }
  // The author and device that most mutations carry (in practice all).
  const std::string& author = p.m.front().author_id;
  const std::string& device = p.m.front().device_id;
  w.MapHead(4);
  w.Text("au");
  w.Text(author);
  w.Text("d");
  w.Id(device);
  w.Text("m");
  w.ArrayHead(p.m.size());
  for (const Mutation& m : p.m) WriteMutation(w, m, author, device);
  w.Text("t");
  w.Text("push");
  return out;
}

}  // namespace doorstep::sync::internal
