// See json_writer_internal.h. nlohmann::json's serializer writes a string one
// character at a time through a virtual output adapter; record bodies are
// mostly long ASCII text, which this copies in runs.
#include "json_writer_internal.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "doorstep/core/json_text.h"

namespace doorstep::core {
namespace {

// 0: copied as is; 1: needs an escape; 2: non-ASCII (copied once the string
// is known to be valid UTF-8).
constexpr std::array<unsigned char, 256> MakeClasses() {
  std::array<unsigned char, 256> c{};
  for (int i = 0; i < 0x20; ++i) c[i] = 1;
  c['"'] = 1;
  c['\\'] = 1;
  for (int i = 0x80; i < 0x100; ++i) c[i] = 2;
  return c;
}
constexpr std::array<unsigned char, 256> kClass = MakeClasses();

void AppendEscape(std::string* out, unsigned char c) {
  switch (c) {
    case '"': out->append("\\\""); return;
    case '\\': out->append("\\\\"); return;
    case '\b': out->append("\\b"); return;
    case '\t': out->append("\\t"); return;
    case '\n': out->append("\\n"); return;
    case '\f': out->append("\\f"); return;
    case '\r': out->append("\\r"); return;
    default: {
      static const char kHex[] = "0123456789abcdef";
      const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(esc, sizeof esc);
    }
  }
}

template <typename Int>
void AppendInt(std::string* out, Int v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

// True if s is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF), as the library requires.
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k <= n; ++k) {
      unsigned char ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += n + 1;
  }
  return true;
}

uint64_t LoadWord(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// True if any byte of `w` is a control character (< 0x20), '"', '\\' or
// not ASCII (>= 0x80): the bytes kClass does not mark 0. Each test is the
// "has a zero byte" / "has a byte less than n" bit trick, exact as a yes/no.
bool WordNeedsLook(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t control = (w - kOnes * 0x20) & ~w;
  const uint64_t has_quote = (quote - kOnes) & ~quote;
  const uint64_t has_backslash = (backslash - kOnes) & ~backslash;
  return ((w | control | has_quote | has_backslash) & kHigh) != 0;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  const size_t start = out->size();
  out->push_back('"');
  bool checked_utf8 = false;
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < s.size()) {
    // Eight bytes at a time while none of them needs a look (a record body
    // is mostly plain ASCII text).
    if (s.size() - i >= 8 && !WordNeedsLook(LoadWord(s.data() + i))) {
      i += 8;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (kClass[c] == 1) {
      out->append(s.data() + run, i - run);
      AppendEscape(out, c);
      run = i + 1;
    } else if (kClass[c] == 2 && !checked_utf8) {
      if (!ValidUtf8(s)) {  // the library throws, as dump() would
        out->resize(start);
        out->append(nlohmann::json(std::string(s)).dump());
        return;
      }
      checked_utf8 = true;  // valid UTF-8 is copied as is
    }
    ++i;
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendJson(std::string* out, const nlohmann::json& j) {
  using V = nlohmann::json::value_t;
  switch (j.type()) {
    case V::null: out->append("null"); return;
    case V::boolean: out->append(j.get_ref<const bool&>() ? "true" : "false"); return;
    case V::number_integer: AppendInt(out, j.get_ref<const nlohmann::json::number_integer_t&>()); return;
    case V::number_unsigned: AppendInt(out, j.get_ref<const nlohmann::json::number_unsigned_t&>()); return;
    case V::string: AppendJsonString(out, j.get_ref<const std::string&>()); return;
    case V::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, it.key());
        out->push_back(':');
        AppendJson(out, it.value());
      }
      out->push_back('}');
      return;
    }
    case V::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& v : j) {
        if (!first) out->push_back(',');
        first = false;
        AppendJson(out, v);
      }
      out->push_back(']');
      return;
    }
    default:  // floats, binary, discarded: the library's own format
      out->append(j.dump());
      return;
  }
}

}  // namespace doorstep::core

namespace doorstep::core {

void AppendJsonText(std::string* out, const nlohmann::json& j) { AppendJson(out, j); }

}  // namespace doorstep::core
