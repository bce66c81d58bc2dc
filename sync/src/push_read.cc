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
#include <exception>

#include "cbor_cursor_internal.h"
#include "protocol_internal.h"
#include "push_read_internal.h"

namespace doorstep::sync::internal {

namespace {

using json = nlohmann::json;
using Head = CborCursor::Head;
using Checks = CborCursor::Checks;

constexpr int64_t kMaxCount = int64_t{1} << 53;  // as protocol_decode.cc

// Pass 2 reads bytes that pass 1 checked: bounds only from then on.
CborCursor At(const uint8_t* p, const uint8_t* end) { return CborCursor(p, end, Checks::kBoundsOnly); }

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
  CborCursor r = At(p, end);
  Head h;
  if (!r.ReadHead(&h) || h.major != CborCursor::kMap || h.arg > kMaxChangesPerMutation) return false;
  for (uint64_t i = 0; i < h.arg; ++i) {
    std::string_view field;
    Head two;
    if (!r.Key(&field) || !IsFieldPath(field)) return false;
    if (!r.ReadHead(&two) || two.major != CborCursor::kArray || two.arg != 2) return false;
    FieldChange c;
    size_t from_bytes = 0, to_bytes = 0;
    if (!r.Value(0, 0, &from_bytes, &c.from) || !r.Value(0, 0, &to_bytes, &c.to)) return false;
    size_t before = m->changes.size();
    m->changes.emplace_hint(m->changes.end(), std::string(field), std::move(c));
    if (m->changes.size() == before) return false;  // a field named twice: left to Decode()
  }
  return true;
}

// One mutation: MutationFromJson's reads, in its order.
bool ReadMutation(CborCursor& r, const std::string& author, const std::string& device, Mutation* m) {
  const uint8_t* end = nullptr;
  const uint8_t* at[kKeys] = {};
  {
    Head h;
    if (!r.ReadHead(&h) || h.major != CborCursor::kMap) return false;
    for (uint64_t i = 0; i < h.arg; ++i) {
      std::string_view k;
      if (!r.Key(&k)) return false;
      int key = KeyOf(k);
      if (key >= 0) {
        if (at[key] != nullptr) return false;  // a key twice: left to Decode()
        at[key] = r.pos();
      }
      if (!r.Skip(0)) return false;
    }
    end = r.pos();
  }
  auto has = [&](Key k) { return at[k] != nullptr; };
  auto IdAt = [&](Key k, std::string* hex) { return At(at[k], end).Id(hex); };
  auto TokenAt = [&](Key k, std::string* out) { return At(at[k], end).Token(out); };
  auto IntAt = [&](Key k, int64_t min, int64_t max, int64_t* out) { return At(at[k], end).Int(min, max, out); };
  auto ValueAt = [&](Key k, json* out) {
    size_t bytes = 0;
    return At(at[k], end).Value(0, 0, &bytes, out);
  };
  if (!has(kI) || !IdAt(kI, &m->mutation_id)) return false;
  if (!has(kR) || !IdAt(kR, &m->record_id)) return false;
  if (!has(kY) || !TokenAt(kY, &m->type)) return false;
  if (!has(kS) || !TokenAt(kS, &m->subject_id)) return false;
  if (has(kB) && !IntAt(kB, 0, kMaxCount, &m->base_rev)) return false;
  int64_t kind = 0;
  if (has(kK) && !IntAt(kK, 0, 1, &kind)) return false;
  m->kind = kind == 1 ? MutationKind::kResolve : MutationKind::kPut;
  if (has(kC) && !ReadChanges(at[kC], end, m)) return false;
  if (has(kSt)) {
    int64_t st = 0;
    if (!IntAt(kSt, 1, 1, &st)) return false;
    m->status = "final";
  }
  if (has(kA) && *at[kA] != 0xF6) {  // null = absent
    int64_t a = 0;
    if (!IntAt(kA, 1, kMaxCount, &a)) return false;
    m->amends = a;
  }
  if (has(kFl)) {
    CborCursor fr = At(at[kFl], end);
    Head h;
    if (!fr.ReadHead(&h) || h.major != CborCursor::kArray || h.arg > kMaxFlags) return false;
    m->flags.resize(static_cast<size_t>(h.arg));
    for (std::string& f : m->flags) {
      if (!fr.Token(&f)) return false;
    }
  }
  if (has(kSv) && !IntAt(kSv, 1, 1000000, &m->schema_version)) return false;
  if (!has(kCa) || !IntAt(kCa, 0, kMaxCount, &m->created_at)) return false;
  int64_t ua = 0;
  if (has(kUa) && !IntAt(kUa, -kMaxCount, kMaxCount, &ua)) return false;
  if (m->created_at + ua < 0 || m->created_at + ua > kMaxCount) return false;
  m->updated_at = m->created_at + ua;
  m->author_id = author;
  if (has(kAu) && !TokenAt(kAu, &m->author_id)) return false;
  if (!IsTokenId(m->author_id)) return false;
  m->device_id = device;
  if (has(kD) && !IdAt(kD, &m->device_id)) return false;
  if (!IsHexId(m->device_id)) return false;
  json h;
  if (!has(kH) || !ValueAt(kH, &h)) return false;
  static const std::string kNowhere;
  if (!HlcFromWire(h, m->device_id, m->updated_at, kNowhere, &m->hlc).ok()) return false;
  if (m->kind == MutationKind::kResolve) {
    if (!has(kCi) || !IdAt(kCi, &m->conflict_id)) return false;
    if (!has(kPa) || !At(at[kPa], end).Text(kMaxPathBytes, &m->path) || !IsFieldPath(m->path)) return false;
    if (has(kVa) && !ValueAt(kVa, &m->value)) return false;
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
    CborCursor r(begin, end);
    Head h;
    if (!r.ReadHead(&h) || h.major != CborCursor::kMap || h.arg > CborCursor::kMaxContainer) return std::nullopt;
    for (uint64_t i = 0; i < h.arg; ++i) {
      std::string_view k;
      if (!r.Key(&k)) return std::nullopt;
      const uint8_t** slot = k == "t" ? &t : k == "au" ? &au : k == "d" ? &d : k == "m" ? &m : nullptr;
      if (slot != nullptr) {
        if (*slot != nullptr) return std::nullopt;  // a key twice
        *slot = r.pos();
      }
      if (!r.Skip(1)) return std::nullopt;
    }
    if (!r.AtEnd()) return std::nullopt;
  }
  std::string type;
  if (t == nullptr || !At(t, end).Text(16, &type) || type != "push") return std::nullopt;
  if (m == nullptr) return std::nullopt;
  // Pass 2: the mutations.
  CborCursor r = At(m, end);
  Head h;
  if (!r.ReadHead(&h) || h.major != CborCursor::kArray || h.arg > kMaxMutationsPerPush) return std::nullopt;
  std::string author, device;
  if (h.arg > 0) {
    if (au == nullptr || !At(au, end).Token(&author)) return std::nullopt;
    if (d == nullptr || !At(d, end).Id(&device)) return std::nullopt;
  }
  Push push;
  push.m.resize(static_cast<size_t>(h.arg));
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
