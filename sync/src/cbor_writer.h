// CborWriter: appends CBOR items to a string without building nlohmann::json
// trees, byte for byte as nlohmann::json::to_cbor() writes the same values
// (shortest heads, a double as a float when that is exact, NaN and
// infinities as half floats, object keys in the json object's order). The
// protocol's encoders use it for the big messages (a push); the tests and the
// fuzz target check it against to_cbor(). Private to sync/.
// Thread safety: one writer per thread; it borrows `out`.
#ifndef DOORSTEP_SYNC_CBOR_WRITER_H_
#define DOORSTEP_SYNC_CBOR_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace doorstep::sync::internal {

class CborWriter {
 public:
  explicit CborWriter(std::string* out) : out_(out) {}

  // A head: major type 0-7 and its argument, in the shortest form.
  void Head(int major, uint64_t n);
  void Uint(uint64_t v) { Head(0, v); }
  // As to_cbor writes a number_integer: major 0 when >= 0, else major 1.
  void Int(int64_t v);
  void Text(std::string_view s);
  void Bool(bool v) { out_->push_back(static_cast<char>(v ? 0xF5 : 0xF4)); }
  void Null() { out_->push_back(static_cast<char>(0xF6)); }
  void Double(double v);
  void MapHead(uint64_t pairs) { Head(5, pairs); }
  void ArrayHead(uint64_t n) { Head(4, n); }
  // An id in its wire form (WireId): a 16-byte byte string for 32 lower-case
  // hex characters, else the text as it is.
  void Id(std::string_view hex);
  // Any json value, as to_cbor(v) writes it.
  void Json(const nlohmann::json& v);

 private:
  std::string* out_;
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_CBOR_WRITER_H_
