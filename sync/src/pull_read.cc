// ReadBatchFast: a pulled batch straight from CBOR (pull_read_internal.h).
// Every check below is one that Decode() makes (protocol_decode.cc,
// cbor_reader.cc's limits); where this reader cannot tell that Decode()
// would take a thing exactly so, it gives up (returns false) and Decode()
// reads the message instead.
#include <cmath>
#include <cstring>
#include <limits>

#include "cbor_internal.h"
#include "protocol_internal.h"
#include "pull_read_internal.h"

namespace doorstep::sync::internal {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxCount = int64_t{1} << 53;
constexpr uint64_t kMaxInt = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// ParseCbor's limits as Decode() sets them (cbor_internal.h's defaults).
constexpr size_t kMaxDepth = CborLimits{}.max_depth;
constexpr size_t kMaxContainer = CborLimits{}.max_container;
constexpr size_t kMaxNodes = CborLimits{}.max_nodes;
constexpr size_t kMaxByteString = CborLimits{}.max_byte_string;



struct Head {
  int major = 0;
  int info = 0;
  uint64_t arg = 0;
};

// Field presence bits of a record.
enum : uint32_t {
  kI = 1, kY = 2, kS = 4, kR = 8, kSt = 16, kFl = 32, kA = 64, kX = 128, kAu = 256, kD = 512,
  kSv = 1024, kCa = 2048, kUa = 4096, kSr = 8192, kB = 16384, kH = 32768, kF = 65536,
};

class Reader {
 public:
  explicit Reader(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}

  bool done() const { return p_ == end_; }

  // One item's head, counted as one value (as ParseCbor counts them).
  // Indefinite lengths and reserved forms are not taken.
  bool ReadHead(Head* h) {
    if (p_ >= end_ || ++nodes_ > kMaxNodes) return false;
    const uint8_t b = *p_++;
    h->major = b >> 5;
    h->info = b & 31;
    if (h->info < 24) {
      h->arg = static_cast<uint64_t>(h->info);
      return true;
    }
    if (h->info > 27) return false;
    const int n = 1 << (h->info - 24);
    if (end_ - p_ < n) return false;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | *p_++;
    h->arg = v;
    return true;
  }

  // A map key: a text string (not counted as a value).
  bool Key(std::string_view* k) {
    if (p_ >= end_) return false;
    --nodes_;  // ReadHead counts it
    Head h;
    if (!ReadHead(&h) || h.major != 3 || h.arg > kMaxStringBytes) return false;
    return Bytes(h.arg, k);
  }

  bool Bytes(uint64_t n, std::string_view* s) {
    if (n > static_cast<uint64_t>(end_ - p_)) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  // A simple value or float (major 7): false, true, null, single and double
  // floats, finite. Half floats and other simple values are not taken.
  bool Simple(const Head& h, json* out) {
    switch (h.info) {
      case 20: *out = false; return true;
      case 21: *out = true; return true;
      case 22: *out = nullptr; return true;
      case 26: {
        const uint32_t bits = static_cast<uint32_t>(h.arg);
        float f;
        std::memcpy(&f, &bits, 4);
        if (!std::isfinite(f)) return false;
        *out = static_cast<double>(f);
        return true;
      }
      case 27: {
        double d;
        std::memcpy(&d, &h.arg, 8);
        if (!std::isfinite(d)) return false;
        *out = d;
        return true;
      }
      default:
        return false;
    }
  }

  // Any item, checked as ParseCbor checks it, and skipped. `level`: the
  // containers around it.
  bool Skip(size_t level) {
    Head h;
    if (!ReadHead(&h)) return false;
    std::string_view s;
    switch (h.major) {
      case 0: return true;
      case 1: return h.arg <= kMaxInt;
      case 2: return h.arg <= kMaxByteString && Bytes(h.arg, &s);
      case 3: return h.arg <= kMaxStringBytes && Bytes(h.arg, &s) && IsValidUtf8(s);
      case 4:
        if (h.arg > kMaxContainer || level + 1 > kMaxDepth) return false;
        for (uint64_t i = 0; i < h.arg; ++i) {
          if (!Skip(level + 1)) return false;
        }
        return true;
      case 5:
        if (h.arg > kMaxContainer || level + 1 > kMaxDepth) return false;
        for (uint64_t i = 0; i < h.arg; ++i) {
          if (!Key(&s) || !IsValidUtf8(s) || !Skip(level + 1)) return false;
        }
        return true;
      case 7: {
        json v;
        return Simple(h, &v);
      }
      default:
        return false;  // tags
    }
  }

  // A field value into `*out`, with CheckValue's rules: nesting within the
  // value ≤ kMaxValueDepth, no byte strings, finite numbers; `*bytes` adds
  // up its string and key bytes (the caller checks the total).
  bool Value(size_t level, size_t vdepth, size_t* bytes, json* out) {
    if (vdepth > kMaxValueDepth) return false;
    Head h;
    if (!ReadHead(&h)) return false;
    switch (h.major) {
      case 0:
        *out = static_cast<json::number_unsigned_t>(h.arg);
        return true;
      case 1:
        if (h.arg > kMaxInt) return false;
        *out = static_cast<json::number_integer_t>(-1 - static_cast<int64_t>(h.arg));
        return true;
      case 3: {
        std::string_view s;
        if (h.arg > kMaxStringBytes || !Bytes(h.arg, &s) || !IsValidUtf8(s)) return false;
        *bytes += s.size();
        *out = std::string(s);
        return true;
      }
      case 4: {
        if (h.arg > kMaxContainer || level + 1 > kMaxDepth) return false;
        *out = json::array();
        json::array_t& a = out->get_ref<json::array_t&>();
        a.reserve(static_cast<size_t>(h.arg));
        for (uint64_t i = 0; i < h.arg; ++i) {
          a.emplace_back();
          if (!Value(level + 1, vdepth + 1, bytes, &a.back())) return false;
        }
        return true;
      }
      case 5: {
        if (h.arg > kMaxContainer || level + 1 > kMaxDepth) return false;
        *out = json::object();
        json::object_t& o = out->get_ref<json::object_t&>();
        for (uint64_t i = 0; i < h.arg; ++i) {
          std::string_view k;
          if (!Key(&k) || !IsValidUtf8(k)) return false;
          *bytes += k.size();
          json child;
          if (!Value(level + 1, vdepth + 1, bytes, &child)) return false;
          if (!o.emplace(std::string(k), std::move(child)).second) return false;  // a duplicated key
        }
        return true;
      }
      case 7:
        return Simple(h, out);
      default:
        return false;  // byte strings (not a JSON value), tags
    }
  }

  bool Int(int64_t min, int64_t max, int64_t* out) {
    Head h;
    if (!ReadHead(&h) || h.arg > kMaxInt) return false;
    if (h.major == 0) {
      *out = static_cast<int64_t>(h.arg);
    } else if (h.major == 1) {
      *out = -1 - static_cast<int64_t>(h.arg);
    } else {
      return false;
    }
    return *out >= min && *out <= max;
  }

  bool Token(std::string* out) {
    Head h;
    std::string_view s;
    if (!ReadHead(&h) || h.major != 3 || h.arg > kMaxTokenBytes || !Bytes(h.arg, &s) || !IsTokenId(s)) {
      return false;
    }
    out->assign(s.data(), s.size());
    return true;
  }

  bool Id(std::string* hex) {
    Head h;
    std::string_view b;
    if (!ReadHead(&h) || h.major != 2 || h.arg != 16 || !Bytes(16, &b)) return false;
    static constexpr char kHex[] = "0123456789abcdef";
    hex->resize(32);
    for (size_t i = 0; i < 16; ++i) {
      const auto c = static_cast<unsigned char>(b[i]);
      (*hex)[2 * i] = kHex[c >> 4];
      (*hex)[2 * i + 1] = kHex[c & 15];
    }
    return true;
  }

  bool Bool(bool* out) {
    Head h;
    if (!ReadHead(&h) || h.major != 7 || (h.info != 20 && h.info != 21)) return false;
    *out = h.info == 21;
    return true;
  }

  // The wire HLC as the json value HlcFromWire reads: text, or [delta, counter].
  bool Hlc(json* out) {
    Head h;
    if (!ReadHead(&h)) return false;
    if (h.major == 3) {
      std::string_view s;
      if (h.arg > kMaxHlcBytes || !Bytes(h.arg, &s) || !IsValidUtf8(s)) return false;
      *out = std::string(s);
      return true;
    }
    if (h.major != 4 || h.arg != 2) return false;
    *out = json::array();
    for (int i = 0; i < 2; ++i) {
      Head e;
      if (!ReadHead(&e) || e.arg > kMaxInt) return false;
      if (e.major == 0) {
        out->push_back(static_cast<json::number_unsigned_t>(e.arg));
      } else if (e.major == 1) {
        out->push_back(static_cast<json::number_integer_t>(-1 - static_cast<int64_t>(e.arg)));
      } else {
        return false;
      }
    }
    return true;
  }

  bool Fields(json* out) {
    Head h;
    if (!ReadHead(&h) || h.major != 5 || h.arg > kMaxFieldsPerRecord) return false;
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
    if (!ReadHead(&h) || h.major != 5 || h.arg > kMaxContainer) return false;
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
        ok = ReadHead(&s) && s.major == 0 && s.arg == 1;
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
    if (p_ < end_ && *p_ == 0xF6) {  // null: none
      ++p_;
      ++nodes_;
      out->reset();
      return nodes_ <= kMaxNodes;
    }
    int64_t v = 0;
    if (!Int(1, kMaxCount, &v)) return false;
    *out = v;
    return true;
  }

  bool Flags(std::vector<std::string>* out) {
    Head h;
    if (!ReadHead(&h) || h.major != 4 || h.arg > kMaxFlags) return false;
    out->resize(static_cast<size_t>(h.arg));
    for (std::string& f : *out) {
      if (!Token(&f)) return false;
    }
    return true;
  }

  bool Batch(sync::Batch* b) {
    Head h;
    if (!ReadHead(&h) || h.major != 5 || h.arg > kMaxContainer) return false;
    bool t = false, rs = false, c = false, mo = false;
    for (uint64_t n = 0; n < h.arg; ++n) {
      std::string_view k;
      if (!Key(&k)) return false;
      if (k == "t") {
        Head v;
        std::string_view s;
        if (t || !ReadHead(&v) || v.major != 3 || !Bytes(v.arg, &s) || s != "batch") return false;
        t = true;
      } else if (k == "rs") {
        Head v;
        if (rs || !ReadHead(&v) || v.major != 4 || v.arg > kMaxRecordsPerBatch) return false;
        rs = true;
        b->records.resize(static_cast<size_t>(v.arg));
        for (PulledRecord& r : b->records) {
          if (!Record(&r)) return false;
        }
      } else if (k == "c") {
        Head v;
        if (c || !ReadHead(&v) || v.major != 0 || v.arg > static_cast<uint64_t>(kMaxCount)) return false;
        c = true;
        b->checkpoint = v.arg;
      } else if (k == "mo") {
        if (mo || !Bool(&b->more)) return false;
        mo = true;
      } else {
        return false;  // conflicts, purge notices, other keys: Decode() reads them
      }
    }
    return t && done();
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  size_t nodes_ = 0;
};

}  // namespace

std::optional<Batch> ReadBatchFast(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxMessageBytes) return std::nullopt;
  // Any other message type is seen at its first byte or key: a batch map
  // starts with "t" or "rs" as the encoders write it, others are given up
  // on at their first unknown key.
  Batch b;
  Reader r(bytes);
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
