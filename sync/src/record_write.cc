// EncodeRecordCbor: the keys and the rules for leaving them out are those of
// protocol_encode.cc's RecordEnvelope, written in nlohmann's (sorted) key
// order. tests/sync/record_write_test.cc checks the bytes against to_cbor.
#include "record_write_internal.h"

#include "cbor_writer.h"
#include "protocol_internal.h"

namespace doorstep::sync::internal {

namespace {

// Wrapping difference (no overflow); the decoder checks the sum's range.
int64_t Delta(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

}  // namespace

std::string EncodeRecordCbor(const PulledRecord& r) {
  const bool has_st = r.status != "draft";
  const bool has_ua = r.updated_at != r.created_at;
  const bool has_sr = r.server_received_at != r.updated_at;
  uint64_t pairs = 9;  // i, y, s, r, au, d, h, ca, f
  pairs += has_st + !r.flags.empty() + r.amends.has_value() + r.deleted + (r.schema_version != 1) +
           has_ua + has_sr + (r.base_rev != 0);
  std::string out;
  out.reserve(256);
  CborWriter w(&out);
  w.MapHead(pairs);
  if (r.amends) {
    w.Text("a");
    w.Int(*r.amends);
  }
  w.Text("au");
  w.Text(r.author_id);
  if (r.base_rev != 0) {
    w.Text("b");
    w.Int(r.base_rev);
  }
  w.Text("ca");
  w.Int(r.created_at);
  w.Text("d");
  w.Id(r.device_id);
  w.Text("f");
  w.Json(r.fields);
  if (!r.flags.empty()) {
    w.Text("fl");
    w.ArrayHead(r.flags.size());
    for (const std::string& f : r.flags) w.Text(f);
  }
  w.Text("h");
  w.Json(WireHlc(r.hlc, r.device_id, r.updated_at));
  w.Text("i");
  w.Id(r.id);
  w.Text("r");
  w.Int(r.rev);
  w.Text("s");
  w.Text(r.subject_id);
  if (has_sr) {
    w.Text("sr");
    w.Int(Delta(r.server_received_at, r.updated_at));
  }
  if (has_st) {
    w.Text("st");
    if (r.status == "final") {
      w.Int(1);
    } else {
      w.Text(r.status);
    }
  }
  if (r.schema_version != 1) {
    w.Text("sv");
    w.Int(r.schema_version);
  }
  if (has_ua) {
    w.Text("ua");
    w.Int(Delta(r.updated_at, r.created_at));
  }
  if (r.deleted) {
    w.Text("x");
    w.Bool(true);
  }
  w.Text("y");
  w.Text(r.type);
  return out;
}

}  // namespace doorstep::sync::internal
