// CborCursor (cbor_cursor_internal.h). Every check here is one ParseCbor or
// CheckValue makes; tests/sync/push_read_test.cc, pull_read_test.cc and the
// fuzz_protocol_decode target hold the readers built on it to Decode().
#include "cbor_cursor_internal.h"

#include <cmath>
#include <cstring>

#include "protocol_internal.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

bool CborSimpleValue(const CborCursor::Head& h, json* out) {
  switch (h.info) {
    case 20: if (out) *out = false; return true;
    case 21: if (out) *out = true; return true;
    case 22: if (out) *out = nullptr; return true;
    case 25: case 26: case 27: break;
    default: return false;  // undefined, other simple values
  }
  double d;
  if (h.info == 25) {  // half float, decoded as nlohmann's parser does
    const int exp = static_cast<int>(h.arg >> 10 & 0x1F);
    const double mant = static_cast<double>(h.arg & 0x3FF);
    if (exp == 31) return false;  // infinity or NaN
    d = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(mant + 1024, exp - 25);
    if (h.arg & 0x8000) d = -d;
  } else if (h.info == 26) {
    const uint32_t bits = static_cast<uint32_t>(h.arg);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    d = static_cast<double>(f);
  } else {
    std::memcpy(&d, &h.arg, sizeof d);
  }
  if (!std::isfinite(d)) return false;
  if (out) *out = d;
  return true;
}

bool CborCursor::TakeNull() {
  if (p_ == end_ || *p_ != 0xF6) return false;
  ++p_;
  return ++nodes_ <= kMaxNodes;
}

bool CborCursor::ReadHead(Head* h) {
  if (p_ == end_ || ++nodes_ > kMaxNodes) return false;
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

bool CborCursor::Take(uint64_t n, std::string_view* out) {
  if (n > static_cast<uint64_t>(end_ - p_)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
  p_ += n;
  return true;
}

bool CborCursor::CheckText(std::string_view s) const {
  return checks_ == Checks::kBoundsOnly || IsValidUtf8(s);
}

bool CborCursor::Deeper(size_t level) const {
  return checks_ == Checks::kAll && level + 1 > kMaxDepth;
}

bool CborCursor::Key(std::string_view* out) {
  --nodes_;  // a key is not a value (ReadHead counts it)
  Head h;
  if (!ReadHead(&h)) return false;
  return h.major == kText && h.arg <= kMaxStringBytes && Take(h.arg, out) && CheckText(*out);
}

bool CborCursor::Skip(size_t level) {
  Head h;
  if (!ReadHead(&h)) return false;
  std::string_view s;
  switch (h.major) {
    case kUint: return true;
    case kNegInt: return h.arg <= kMaxInt;
    case kBytes: return h.arg <= kMaxByteString && Take(h.arg, &s);
    case kText: return h.arg <= kMaxStringBytes && Take(h.arg, &s) && CheckText(s);
    case kArray:
    case kMap:
      if (h.arg > kMaxContainer || Deeper(level)) return false;
      for (uint64_t i = 0; i < h.arg; ++i) {
        if (h.major == kMap && !Key(&s)) return false;
        if (!Skip(level + 1)) return false;
      }
      return true;
    case kSimple: return CborSimpleValue(h, nullptr);
    default: return false;  // tags
  }
}

bool CborCursor::Value(size_t level, size_t vdepth, size_t* bytes, json* out) {
  if (vdepth > kMaxValueDepth) return false;
  Head h;
  if (!ReadHead(&h)) return false;
  switch (h.major) {
    case kUint:
      *out = static_cast<json::number_unsigned_t>(h.arg);
      return true;
    case kNegInt:
      if (h.arg > kMaxInt) return false;
      *out = static_cast<json::number_integer_t>(-1 - static_cast<int64_t>(h.arg));
      return true;
    case kText: {
      std::string_view s;
      if (h.arg > kMaxStringBytes || !Take(h.arg, &s) || !CheckText(s)) return false;
      *bytes += s.size();
      *out = std::string(s);
      return *bytes <= kMaxValueBytes;
    }
    case kArray: {
      if (h.arg > kMaxContainer || Deeper(level)) return false;
      *out = json::array();
      json::array_t& a = out->get_ref<json::array_t&>();
      a.reserve(static_cast<size_t>(h.arg));
      for (uint64_t i = 0; i < h.arg; ++i) {
        a.emplace_back();
        if (!Value(level + 1, vdepth + 1, bytes, &a.back())) return false;
      }
      return true;
    }
    case kMap: {
      if (h.arg > kMaxContainer || Deeper(level)) return false;
      *out = json::object();
      json::object_t& o = out->get_ref<json::object_t&>();
      for (uint64_t i = 0; i < h.arg; ++i) {
        std::string_view k;
        if (!Key(&k)) return false;
        *bytes += k.size();
        auto [it, inserted] = o.emplace(std::string(k), json());
        if (!inserted) return false;  // a duplicated key
        if (!Value(level + 1, vdepth + 1, bytes, &it->second)) return false;
      }
      return *bytes <= kMaxValueBytes;
    }
    case kSimple:
      return CborSimpleValue(h, out);
    default:
      return false;  // byte strings (not a JSON value), tags
  }
}

bool CborCursor::Int(int64_t min, int64_t max, int64_t* out) {
  Head h;
  if (!ReadHead(&h) || h.arg > kMaxInt) return false;
  if (h.major == kUint) {
    *out = static_cast<int64_t>(h.arg);
  } else if (h.major == kNegInt) {
    *out = -1 - static_cast<int64_t>(h.arg);
  } else {
    return false;
  }
  return *out >= min && *out <= max;
}

bool CborCursor::Text(size_t max_bytes, std::string* out) {
  Head h;
  std::string_view s;
  if (!ReadHead(&h) || h.major != kText || h.arg > max_bytes || h.arg > kMaxStringBytes ||
      !Take(h.arg, &s) || !CheckText(s)) {
    return false;
  }
  out->assign(s.data(), s.size());
  return true;
}

bool CborCursor::Token(std::string* out) {
  return Text(kMaxTokenBytes, out) && IsTokenId(*out);
}

bool CborCursor::Id(std::string* hex) {
  Head h;
  std::string_view b;
  if (!ReadHead(&h) || h.major != kBytes || h.arg != 16 || !Take(16, &b)) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  hex->resize(32);
  for (size_t i = 0; i < 16; ++i) {
    const auto c = static_cast<unsigned char>(b[i]);
    (*hex)[2 * i] = kHex[c >> 4];
    (*hex)[2 * i + 1] = kHex[c & 15];
  }
  return true;
}

bool CborCursor::Bool(bool* out) {
  Head h;
  if (!ReadHead(&h) || h.major != kSimple || (h.info != 20 && h.info != 21)) return false;
  *out = h.info == 21;
  return true;
}

}  // namespace doorstep::sync::internal
