#include "cbor_writer.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

void CborWriter::Head(int major, uint64_t n) {
  const char m = static_cast<char>(major << 5);
  if (n < 24) {
    out_->push_back(static_cast<char>(m | static_cast<char>(n)));
    return;
  }
  int bytes;
  char info;
  if (n <= 0xFF) {
    bytes = 1;
    info = 24;
  } else if (n <= 0xFFFF) {
    bytes = 2;
    info = 25;
  } else if (n <= 0xFFFFFFFFu) {
    bytes = 4;
    info = 26;
  } else {
    bytes = 8;
    info = 27;
  }
  char buf[9];
  buf[0] = static_cast<char>(m | info);
  for (int i = 0; i < bytes; ++i) buf[1 + i] = static_cast<char>((n >> (8 * (bytes - 1 - i))) & 0xFF);
  out_->append(buf, static_cast<size_t>(bytes) + 1);
}

void CborWriter::Int(int64_t v) {
  if (v >= 0) {
    Head(0, static_cast<uint64_t>(v));
  } else {
    Head(1, static_cast<uint64_t>(-1 - v));
  }
}

void CborWriter::Text(std::string_view s) {
  Head(3, s.size());
  out_->append(s.data(), s.size());
}

void CborWriter::Double(double v) {
  if (std::isnan(v)) {
    out_->append("\xF9\x7E\x00", 3);
    return;
  }
  if (std::isinf(v)) {
    out_->append(v > 0 ? "\xF9\x7C\x00" : "\xF9\xFC\x00", 3);
    return;
  }
  // A double that a float holds exactly goes as a float (as to_cbor does).
  const bool as_float = v >= static_cast<double>(std::numeric_limits<float>::lowest()) &&
                        v <= static_cast<double>(std::numeric_limits<float>::max()) &&
                        !(static_cast<double>(static_cast<float>(v)) < v) &&
                        !(static_cast<double>(static_cast<float>(v)) > v);
  unsigned char buf[9];
  size_t n;
  if (as_float) {
    const float f = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    buf[0] = 0xFA;
    for (int i = 0; i < 4; ++i) buf[1 + i] = static_cast<unsigned char>(bits >> (8 * (3 - i)));
    n = 5;
  } else {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    buf[0] = 0xFB;
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<unsigned char>(bits >> (8 * (7 - i)));
    n = 9;
  }
  out_->append(reinterpret_cast<const char*>(buf), n);
}

void CborWriter::Id(std::string_view hex) {
  if (!IsHexId(hex)) {
    Text(hex);
    return;
  }
  auto nibble = [](char c) { return static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10); };
  char buf[17];
  buf[0] = static_cast<char>(0x50);  // byte string, 16 bytes
  for (size_t i = 0; i < 16; ++i) buf[1 + i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  out_->append(buf, 17);
}

void CborWriter::Json(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      Null();
      return;
    case json::value_t::boolean:
      Bool(v.get<bool>());
      return;
    case json::value_t::number_integer:
      Int(v.get<int64_t>());
      return;
    case json::value_t::number_unsigned:
      Uint(v.get<uint64_t>());
      return;
    case json::value_t::number_float:
      Double(v.get<double>());
      return;
    case json::value_t::string:
      Text(v.get_ref<const std::string&>());
      return;
    case json::value_t::array:
      ArrayHead(v.size());
      for (const json& e : v) Json(e);
      return;
    case json::value_t::object:
      MapHead(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) {
        Text(it.key());
        Json(it.value());
      }
      return;
    default: {  // binary (never in a checked value), discarded: as to_cbor
      std::vector<uint8_t> b = json::to_cbor(v);
      out_->append(b.begin(), b.end());
      return;
    }
  }
}

}  // namespace doorstep::sync::internal
