// ReadBatchFast: a pulled batch straight from CBOR (pull_read_internal.h).
// Every check below is one that Decode() makes (protocol_decode.cc,
// cbor_reader.cc's limits); where this reader cannot tell that Decode()
// would take a thing exactly so, it gives up (returns false) and Decode()
// reads the message instead.
#include "cbor_cursor_internal.h"
#include "cbor_internal.h"
#include "protocol_internal.h"
#include "pull_read_internal.h"

namespace doorstep::sync::internal {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxCount = int64_t{1} << 53;

// Field presence bits of a record.
enum : uint32_t {
  kI = 1, kY = 2, kS = 4, kR = 8, kSt = 16, kFl = 32, kA = 64, kX = 128, kAu = 256, kD = 512,
  kSv = 1024, kCa = 2048, kUa = 4096, kSr = 8192, kB = 16384, kH = 32768, kF = 65536,
};

// A batch's reads on top of the shared cursor's, in one checked pass.
class BatchReader : public CborCursor {
 public:
  explicit BatchReader(std::string_view b) : CborCursor(b) {}

  // The wire HLC as the json value HlcFromWire reads: text, or [delta, counter].
  bool Hlc(json* out) {
    Head h;
    if (!ReadHead(&h)) return false;
    if (h.major == kText) {
      std::string_view s;
      if (h.arg > kMaxHlcBytes || !Take(h.arg, &s) || !IsValidUtf8(s)) return false;
      *out = std::string(s);
      return true;
    }
    if (h.major != kArray || h.arg != 2) return false;
    *out = json::array();
    for (int i = 0; i < 2; ++i) {
      Head e;
      if (!ReadHead(&e) || e.arg > kMaxInt) return false;
      if (e.major == kUint) {
        out->push_back(static_cast<json::number_unsigned_t>(e.arg));
      } else if (e.major == kNegInt) {
        out->push_back(static_cast<json::number_integer_t>(-1 - static_cast<int64_t>(e.arg)));
      } else {
        return false;
      }
    }
    return true;
  }

  bool Fields(json* out) {
    Head h;
    if (!ReadHead(&h) || h.major != kMap || h.arg > kMaxFieldsPerRecord) return false;
    *out = json::object();
    json::object_t& o = out->get_ref<json::object_t&>();
    for (uint64_t i = 0; i < h.arg; ++i) {
      std::string_view k;
      if (!Key(&k) || !IsFieldPath(k)) return false;
      json v;
      size_t bytes = 0;
      // The value sits in root map → rs → record → f: three containers.
      if (!Value(/*level=*/4, /*vdepth=*/0, &bytes, &v) || bytes > kMaxValueBytes) return false;
      if (!o.emplace(std::string(k), std::move(v)).second) return false;
    }
    return true;
  }

  bool Record(PulledRecord* r) {
    Head h;
    if (!ReadHead(&h) || h.major != kMap || h.arg > kMaxContainer) return false;
    uint32_t seen = 0;
    int64_t ua = 0, sr = 0;
    json hlc;
    for (uint64_t n = 0; n < h.arg; ++n) {
      std::string_view k;
      if (!Key(&k) || k.empty() || k.size() > 2) return false;
      uint32_t bit = 0;
      bool ok = false;
      const char k0 = k[0], k1 = k.size() > 1 ? k[1] : '\0';
      if (k1 == '\0') {
        switch (k0) {
          case 'i': bit = kI; ok = Id(&r->id); break;
          case 'y': bit = kY; ok = Token(&r->type); break;
          case 's': bit = kS; ok = Token(&r->subject_id); break;
          case 'r': bit = kR; ok = Int(1, kMaxCount, &r->rev); break;
          case 'a': bit = kA; ok = Amends(&r->amends); break;
          case 'x': bit = kX; ok = Bool(&r->deleted); break;
          case 'd': bit = kD; ok = Id(&r->device_id); break;
          case 'b': bit = kB; ok = Int(0, kMaxCount, &r->base_rev); break;
          case 'h': bit = kH; ok = Hlc(&hlc); break;
          case 'f': bit = kF; ok = Fields(&r->fields); break;
          default: return false;
        }
      } else if (k0 == 's' && k1 == 't') {
        bit = kSt;
        Head s;
        ok = ReadHead(&s) && s.major == kUint && s.arg == 1;
        r->status = "final";
      } else if (k0 == 'f' && k1 == 'l') {
        bit = kFl;
        ok = Flags(&r->flags);
      } else if (k0 == 'a' && k1 == 'u') {
        bit = kAu;
        ok = Token(&r->author_id);
      } else if (k0 == 's' && k1 == 'v') {
        bit = kSv;
        ok = Int(1, 1000000, &r->schema_version);
      } else if (k0 == 'c' && k1 == 'a') {
        bit = kCa;
        ok = Int(0, kMaxCount, &r->created_at);
      } else if (k0 == 'u' && k1 == 'a') {
        bit = kUa;
        ok = Int(-kMaxCount, kMaxCount, &ua);
      } else if (k0 == 's' && k1 == 'r') {
        bit = kSr;
        ok = Int(-kMaxCount, kMaxCount, &sr);
      } else {
        return false;  // a key this reader does not know: Decode() reads it
      }
      if (!ok || (seen & bit) != 0) return false;
      seen |= bit;
    }
    constexpr uint32_t kRequired = kI | kY | kS | kR | kAu | kD | kCa | kH | kF;
    if ((seen & kRequired) != kRequired) return false;
    r->updated_at = r->created_at + ua;
    if (r->updated_at < 0 || r->updated_at > kMaxCount) return false;
    r->server_received_at = r->updated_at + sr;
    if (r->server_received_at < 0 || r->server_received_at > kMaxCount) return false;
    return HlcFromWire(hlc, r->device_id, r->updated_at, std::string(), &r->hlc).ok();
  }

  bool Amends(std::optional<int64_t>* out) {
    if (TakeNull()) {  // null: none
      out->reset();
      return true;
    }
    int64_t v = 0;
    if (!Int(1, kMaxCount, &v)) return false;
    *out = v;
    return true;
  }

  bool Flags(std::vector<std::string>* out) {
    Head h;
    if (!ReadHead(&h) || h.major != kArray || h.arg > kMaxFlags) return false;
    out->resize(static_cast<size_t>(h.arg));
    for (std::string& f : *out) {
      if (!Token(&f)) return false;
    }
    return true;
  }

  bool Batch(sync::Batch* b) {
    Head h;
    if (!ReadHead(&h) || h.major != kMap || h.arg > kMaxContainer) return false;
    bool t = false, rs = false, c = false, mo = false;
    for (uint64_t n = 0; n < h.arg; ++n) {
      std::string_view k;
      if (!Key(&k)) return false;
      if (k == "t") {
        Head v;
        std::string_view s;
        if (t || !ReadHead(&v) || v.major != kText || !Take(v.arg, &s) || s != "batch") return false;
        t = true;
      } else if (k == "rs") {
        Head v;
        if (rs || !ReadHead(&v) || v.major != kArray || v.arg > kMaxRecordsPerBatch) return false;
        rs = true;
        b->records.resize(static_cast<size_t>(v.arg));
        for (PulledRecord& r : b->records) {
          if (!Record(&r)) return false;
        }
      } else if (k == "c") {
        Head v;
        if (c || !ReadHead(&v) || v.major != kUint || v.arg > static_cast<uint64_t>(kMaxCount)) return false;
        c = true;
        b->checkpoint = v.arg;
      } else if (k == "mo") {
        if (mo || !Bool(&b->more)) return false;
        mo = true;
      } else {
        return false;  // conflicts, purge notices, other keys: Decode() reads them
      }
    }
    return t && AtEnd();
  }
};

}  // namespace

std::optional<Batch> ReadBatchFast(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxMessageBytes) return std::nullopt;
  // Any other message type is seen at its first byte or key: a batch map
  // starts with "t" or "rs" as the encoders write it, others are given up
  // on at their first unknown key.
  Batch b;
  BatchReader r(bytes);
  try {
    if (!r.Batch(&b)) return std::nullopt;
  } catch (const std::exception&) {  // bad_alloc: Decode() answers
    return std::nullopt;
  }
  return b;
}

Result<Message> DecodeServerMessage(std::string_view bytes) {
  if (std::optional<Batch> b = ReadBatchFast(bytes)) return Message(std::move(*b));
  return Decode(bytes);
}

}  // namespace doorstep::sync::internal
