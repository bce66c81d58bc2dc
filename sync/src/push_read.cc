// ReadPushFast: a push message read straight from CBOR (push_read_internal.h).
//
// Two passes over the bytes. The first checks the whole message as the
// codec's CBOR parser would (cbor_reader.cc: ParseCbor with Decode()'s
// limits) without building anything, and notes where the top-level `t`,
// `au`, `d` and `m` are. The second reads each mutation's keys in the order
// MutationFromJson (protocol_decode.cc) reads them, with the same checks.
// Anything either pass does not accept ends the fast path (nullopt): the
// caller then decodes with Decode(), which gives the refusal its usual
// error, so this file needs no error messages of its own.
#include <cctype>
#include <cmath>
#include <cstring>
#include <exception>

#include "cbor_internal.h"
#include "protocol_internal.h"
#include "push_read_internal.h"

namespace doorstep::sync::internal {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxCount = int64_t{1} << 53;  // as protocol_decode.cc
// Decode()'s CborLimits (cbor_internal.h defaults).
constexpr size_t kMaxDepth = 24;
constexpr uint64_t kMaxContainer = 10000;
constexpr uint64_t kMaxByteString = 16;

enum Major { kUint = 0, kNegInt = 1, kBytes = 2, kText = 3, kArray = 4, kMap = 5, kTag = 6, kSimple = 7 };

// A cursor over CBOR bytes; every read is bounds-checked.
class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
  const uint8_t* pos() const { return p_; }
  bool AtEnd() const { return p_ == end_; }

  // An item's initial byte and argument. False at the end, for reserved
  // additional information and for indefinite lengths (never sent by
  // nlohmann's encoder; left to Decode()).
  bool Head(int* major, uint64_t* arg, int* info) {
    if (p_ == end_) return false;
    uint8_t b = *p_++;
    *major = b >> 5;
    *info = b & 31;
    if (*info < 24) {
      *arg = static_cast<uint64_t>(*info);
      return true;
    }
    int n = *info == 24 ? 1 : *info == 25 ? 2 : *info == 26 ? 4 : *info == 27 ? 8 : 0;
    if (n == 0 || end_ - p_ < n) return false;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | *p_++;
    *arg = v;
    return true;
  }
  bool Take(uint64_t n, std::string_view* out) {
    if (n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  // A text string (a key or a value).
  bool Text(std::string_view* out) {
    int major, info;
    uint64_t arg;
    return Head(&major, &arg, &info) && major == kText && arg <= kMaxStringBytes && Take(arg, out);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// The value of a simple item (major 7) as nlohmann's CBOR parser reads it:
// false, true, null, or a finite half, single or double float.
bool Simple(int info, uint64_t arg, json* out) {
  switch (info) {
    case 20: if (out) *out = false; return true;
    case 21: if (out) *out = true; return true;
    case 22: if (out) *out = nullptr; return true;
    case 25: case 26: case 27: break;
    default: return false;
  }
  double d;
  if (info == 25) {
    int exp = static_cast<int>(arg >> 10 & 0x1F);
    double mant = static_cast<double>(arg & 0x3FF);
    if (exp == 31) return false;  // infinity or NaN
    d = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(mant + 1024, exp - 25);
    if (arg & 0x8000) d = -d;
  } else if (info == 26) {
    uint32_t bits = static_cast<uint32_t>(arg);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    d = static_cast<double>(f);
  } else {
    std::memcpy(&d, &arg, sizeof d);
  }
  if (!std::isfinite(d)) return false;
  if (out) *out = d;
  return true;
}

// Steps over one item. With `check`, accepts only what ParseCbor accepts
// (sizes, depth, UTF-8, no tags, byte strings only as short as ids); `depth`
// is the number of containers around the item.
bool Skip(Reader& r, size_t depth, bool check) {
  int major, info;
  uint64_t arg;
  if (!r.Head(&major, &arg, &info)) return false;
  std::string_view s;
  switch (major) {
    case kUint: return true;
    case kNegInt: return arg <= static_cast<uint64_t>(INT64_MAX);
    case kBytes: return arg <= kMaxByteString && r.Take(arg, &s);
    case kText: return arg <= kMaxStringBytes && r.Take(arg, &s) && (!check || IsValidUtf8(s));
    case kArray:
    case kMap:
      if (depth + 1 > kMaxDepth || arg > kMaxContainer) return false;
      for (uint64_t i = 0; i < arg; ++i) {
        if (major == kMap && (!r.Text(&s) || (check && !IsValidUtf8(s)))) return false;
        if (!Skip(r, depth + 1, check)) return false;
      }
      return true;
    case kTag: return false;
    default: return Simple(info, arg, nullptr);
  }
}

// A field value as a JSON value, refused where CheckValue (protocol.h)
// refuses it; `depth` is its nesting inside the field value, `bytes` the
// string bytes counted so far. The message was checked by Skip already.
bool Value(Reader& r, size_t depth, size_t* bytes, json* out) {
  if (depth > kMaxValueDepth) return false;
  int major, info;
  uint64_t arg;
  if (!r.Head(&major, &arg, &info)) return false;
  std::string_view s;
  switch (major) {
    case kUint: *out = static_cast<json::number_unsigned_t>(arg); break;
    case kNegInt:
      if (arg > static_cast<uint64_t>(INT64_MAX)) return false;
      *out = static_cast<json::number_integer_t>(-1 - static_cast<int64_t>(arg));
      break;
    case kText:
      if (!r.Take(arg, &s)) return false;
      *bytes += s.size();
      *out = std::string(s);
      break;
    case kArray: {
      if (arg > kMaxContainer) return false;
      *out = json::array();
      auto& a = out->get_ref<json::array_t&>();
      a.reserve(static_cast<size_t>(arg));
      for (uint64_t i = 0; i < arg; ++i) {
        a.emplace_back();
        if (!Value(r, depth + 1, bytes, &a.back())) return false;
      }
      break;
    }
    case kMap: {
      if (arg > kMaxContainer) return false;
      *out = json::object();
      auto& o = out->get_ref<json::object_t&>();
      for (uint64_t i = 0; i < arg; ++i) {
        if (!r.Text(&s)) return false;
        *bytes += s.size();
        auto [it, inserted] = o.emplace(std::string(s), json());
        if (!inserted || !Value(r, depth + 1, bytes, &it->second)) return false;  // duplicate key
      }
      break;
    }
    case kSimple:
      if (!Simple(info, arg, out)) return false;
      break;
    default: return false;  // byte strings and tags are not JSON values
  }
  return *bytes <= kMaxValueBytes;
}


// Typed reads of one value at `p` (nullptr = the key is absent).
bool IdAt(const uint8_t* p, const uint8_t* end, std::string* hex) {
  Reader r(p, end);
  int major, info;
  uint64_t arg;
  std::string_view b;
  if (!r.Head(&major, &arg, &info) || major != kBytes || arg != 16 || !r.Take(16, &b)) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  hex->resize(32);
  for (size_t i = 0; i < 16; ++i) {
    (*hex)[2 * i] = kHex[static_cast<uint8_t>(b[i]) >> 4];
    (*hex)[2 * i + 1] = kHex[static_cast<uint8_t>(b[i]) & 15];
  }
  return true;
}
bool TextAt(const uint8_t* p, const uint8_t* end, size_t max_bytes, std::string* out) {
  Reader r(p, end);
  std::string_view s;
  if (!r.Text(&s) || s.size() > max_bytes) return false;
  out->assign(s);
  return true;
}
bool TokenAt(const uint8_t* p, const uint8_t* end, std::string* out) {
  return TextAt(p, end, kMaxTokenBytes, out) && IsTokenId(*out);
}
// WireMap::Int: an integer item (not a float) in [min, max].
bool IntAt(const uint8_t* p, const uint8_t* end, int64_t min, int64_t max, int64_t* out) {
  Reader r(p, end);
  int major, info;
  uint64_t arg;
  if (!r.Head(&major, &arg, &info) || (major != kUint && major != kNegInt)) return false;
  if (arg > static_cast<uint64_t>(INT64_MAX)) return false;
  int64_t x = major == kUint ? static_cast<int64_t>(arg) : -1 - static_cast<int64_t>(arg);
  if (x < min || x > max) return false;
  *out = x;
  return true;
}
bool ValueAt(const uint8_t* p, const uint8_t* end, json* out) {
  Reader r(p, end);
  size_t bytes = 0;
  return Value(r, 0, &bytes, out);
}

// The keys MutationFromJson reads.
enum Key { kI, kR, kY, kS, kB, kK, kC, kSt, kA, kFl, kSv, kCa, kUa, kAu, kD, kH, kCi, kPa, kVa, kKeys };
constexpr const char* kKeyNames[kKeys] = {"i", "r", "y", "s", "b", "k", "c", "st", "a", "fl",
                                          "sv", "ca", "ua", "au", "d", "h", "ci", "pa", "va"};

int KeyOf(std::string_view k) {
  for (int i = 0; i < kKeys; ++i) {
    if (k == kKeyNames[i]) return i;
  }
  return -1;
}

bool ReadChanges(const uint8_t* p, const uint8_t* end, Mutation* m) {
  Reader r(p, end);
  int major, info;
  uint64_t n;
  if (!r.Head(&major, &n, &info) || major != kMap || n > kMaxChangesPerMutation) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view field;
    uint64_t two;
    if (!r.Text(&field) || !IsFieldPath(field)) return false;
    if (!r.Head(&major, &two, &info) || major != kArray || two != 2) return false;
    FieldChange c;
    size_t from_bytes = 0, to_bytes = 0;
    if (!Value(r, 0, &from_bytes, &c.from) || !Value(r, 0, &to_bytes, &c.to)) return false;
    size_t before = m->changes.size();
    m->changes.emplace_hint(m->changes.end(), std::string(field), std::move(c));
    if (m->changes.size() == before) return false;  // a field named twice: left to Decode()
  }
  return true;
}

// One mutation: MutationFromJson's reads, in its order.
bool ReadMutation(Reader& r, const std::string& author, const std::string& device, Mutation* m) {
  const uint8_t* end = nullptr;
  const uint8_t* at[kKeys] = {};
  {
    int major, info;
    uint64_t n;
    if (!r.Head(&major, &n, &info) || major != kMap) return false;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k;
      if (!r.Text(&k)) return false;
      int key = KeyOf(k);
      if (key >= 0) {
        if (at[key] != nullptr) return false;  // a key twice: left to Decode()
        at[key] = r.pos();
      }
      if (!Skip(r, 0, /*check=*/false)) return false;
    }
    end = r.pos();
  }
  auto has = [&](Key k) { return at[k] != nullptr; };
  if (!has(kI) || !IdAt(at[kI], end, &m->mutation_id)) return false;
  if (!has(kR) || !IdAt(at[kR], end, &m->record_id)) return false;
  if (!has(kY) || !TokenAt(at[kY], end, &m->type)) return false;
  if (!has(kS) || !TokenAt(at[kS], end, &m->subject_id)) return false;
  if (has(kB) && !IntAt(at[kB], end, 0, kMaxCount, &m->base_rev)) return false;
  int64_t kind = 0;
  if (has(kK) && !IntAt(at[kK], end, 0, 1, &kind)) return false;
  m->kind = kind == 1 ? MutationKind::kResolve : MutationKind::kPut;
  if (has(kC) && !ReadChanges(at[kC], end, m)) return false;
  if (has(kSt)) {
    int64_t st = 0;
    if (!IntAt(at[kSt], end, 1, 1, &st)) return false;
    m->status = "final";
  }
  if (has(kA) && *at[kA] != 0xF6) {  // null = absent
    int64_t a = 0;
    if (!IntAt(at[kA], end, 1, kMaxCount, &a)) return false;
    m->amends = a;
  }
  if (has(kFl)) {
    Reader fr(at[kFl], end);
    int major, info;
    uint64_t n;
    if (!fr.Head(&major, &n, &info) || major != kArray || n > kMaxFlags) return false;
    m->flags.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view f;
      if (!fr.Text(&f) || !IsTokenId(f)) return false;
      m->flags.emplace_back(f);
    }
  }
  if (has(kSv) && !IntAt(at[kSv], end, 1, 1000000, &m->schema_version)) return false;
  if (!has(kCa) || !IntAt(at[kCa], end, 0, kMaxCount, &m->created_at)) return false;
  int64_t ua = 0;
  if (has(kUa) && !IntAt(at[kUa], end, -kMaxCount, kMaxCount, &ua)) return false;
  if (m->created_at + ua < 0 || m->created_at + ua > kMaxCount) return false;
  m->updated_at = m->created_at + ua;
  m->author_id = author;
  if (has(kAu) && !TokenAt(at[kAu], end, &m->author_id)) return false;
  if (!IsTokenId(m->author_id)) return false;
  m->device_id = device;
  if (has(kD) && !IdAt(at[kD], end, &m->device_id)) return false;
  if (!IsHexId(m->device_id)) return false;
  json h;
  if (!has(kH) || !ValueAt(at[kH], end, &h)) return false;
  static const std::string kNowhere;
  if (!HlcFromWire(h, m->device_id, m->updated_at, kNowhere, &m->hlc).ok()) return false;
  if (m->kind == MutationKind::kResolve) {
    if (!has(kCi) || !IdAt(at[kCi], end, &m->conflict_id)) return false;
    if (!has(kPa) || !TextAt(at[kPa], end, kMaxPathBytes, &m->path) || !IsFieldPath(m->path)) return false;
    if (has(kVa) && !ValueAt(at[kVa], end, &m->value)) return false;
  }
  return true;
}

std::optional<Push> ReadPush(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxPushBytes) return std::nullopt;
  const auto* begin = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* end = begin + bytes.size();
  // Pass 1: the whole message as ParseCbor would check it; where t, au, d, m are.
  const uint8_t *t = nullptr, *au = nullptr, *d = nullptr, *m = nullptr;
  {
    Reader r(begin, end);
    int major, info;
    uint64_t n;
    if (!r.Head(&major, &n, &info) || major != kMap || n > kMaxContainer) return std::nullopt;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view k;
      if (!r.Text(&k) || !IsValidUtf8(k)) return std::nullopt;
      const uint8_t** slot = k == "t" ? &t : k == "au" ? &au : k == "d" ? &d : k == "m" ? &m : nullptr;
      if (slot != nullptr) {
        if (*slot != nullptr) return std::nullopt;  // a key twice
        *slot = r.pos();
      }
      if (!Skip(r, 1, /*check=*/true)) return std::nullopt;
    }
    if (!r.AtEnd()) return std::nullopt;
  }
  std::string type;
  if (t == nullptr || !TextAt(t, end, 16, &type) || type != "push") return std::nullopt;
  if (m == nullptr) return std::nullopt;
  // Pass 2: the mutations.
  Reader r(m, end);
  int major, info;
  uint64_t n;
  if (!r.Head(&major, &n, &info) || major != kArray || n > kMaxMutationsPerPush) return std::nullopt;
  std::string author, device;
  if (n > 0) {
    if (au == nullptr || !TokenAt(au, end, &author)) return std::nullopt;
    if (d == nullptr || !IdAt(d, end, &device)) return std::nullopt;
  }
  Push push;
  push.m.resize(static_cast<size_t>(n));
  for (Mutation& x : push.m) {
    if (!ReadMutation(r, author, device, &x)) return std::nullopt;
  }
  return push;
}

}  // namespace

std::optional<Push> ReadPushFast(std::string_view bytes) {
  try {
    return ReadPush(bytes);
  } catch (const std::exception&) {
    return std::nullopt;  // out of memory: Decode() reports it
  }
}

Result<Message> DecodeOnServer(std::string_view bytes) {
  if (std::optional<Push> push = ReadPushFast(bytes)) return Message(std::move(*push));
  return Decode(bytes);
}

}  // namespace doorstep::sync::internal
