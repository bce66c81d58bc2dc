// CborCursor: a bounds-checked cursor over CBOR bytes, for the fast message
// readers (push_read.cc on the server, pull_read.cc on the device). It
// accepts exactly what ParseCbor (cbor_internal.h) accepts with Decode()'s
// limits, item by item, so a reader built on it can read a message straight
// into structs and give up (return false) wherever ParseCbor or Decode()
// would refuse or read differently; the caller then calls Decode(), whose
// answer is authoritative. Private to sync/.
//
// Ownership: borrows the bytes, which must outlive the cursor.
// Thread safety: one cursor per thread; the bytes may be shared.
#ifndef DOORSTEP_SYNC_CBOR_CURSOR_INTERNAL_H_
#define DOORSTEP_SYNC_CBOR_CURSOR_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cbor_internal.h"

namespace doorstep::sync::internal {

class CborCursor {
 public:
  enum Major { kUint = 0, kNegInt = 1, kBytes = 2, kText = 3, kArray = 4, kMap = 5, kTag = 6, kSimple = 7 };
  struct Head {
    int major = 0;
    int info = 0;
    uint64_t arg = 0;
  };
  // Whether the bytes still need ParseCbor's checks (UTF-8, the message's
  // depth) or were already stepped over by a checking Skip: a second pass
  // over them (the server's push reader) need not validate them again.
  enum class Checks { kAll, kBoundsOnly };

  CborCursor(const uint8_t* p, const uint8_t* end, Checks checks = Checks::kAll)
      : p_(p), end_(end), checks_(checks) {}
  explicit CborCursor(std::string_view b, Checks checks = Checks::kAll)
      : CborCursor(reinterpret_cast<const uint8_t*>(b.data()),
                   reinterpret_cast<const uint8_t*>(b.data()) + b.size(), checks) {}

  const uint8_t* pos() const { return p_; }
  bool AtEnd() const { return p_ == end_; }
  // True and steps over it if the next byte is CBOR null (counted as a value).
  bool TakeNull();

  // One item's head, counted as one value (ParseCbor counts values, not
  // keys). False at the end, past the value count, for reserved additional
  // information and for indefinite lengths (nlohmann's encoder never sends
  // them; left to Decode()).
  bool ReadHead(Head* h);
  // The next `n` bytes.
  bool Take(uint64_t n, std::string_view* out);
  // A map key: a text string of at most kMaxStringBytes (UTF-8 checked
  // unless kBoundsOnly), not counted as a value.
  bool Key(std::string_view* out);
  // Steps over one item, checked as ParseCbor checks it (sizes, depth, UTF-8,
  // no tags, byte strings only as short as ids). `level`: the containers
  // around the item in the whole message.
  bool Skip(size_t level);
  // A field value as a JSON value, refused where CheckValue (protocol.h)
  // refuses it: nesting within the value (`vdepth`) ≤ kMaxValueDepth, no
  // byte strings, finite numbers, no duplicated key; `*bytes` adds up its
  // string and key bytes, which may not pass kMaxValueBytes.
  bool Value(size_t level, size_t vdepth, size_t* bytes, nlohmann::json* out);

  // Typed reads, each of one item and each with Decode()'s check.
  bool Int(int64_t min, int64_t max, int64_t* out);     // an integer, not a float
  bool Text(size_t max_bytes, std::string* out);        // a text string
  bool Token(std::string* out);                         // a text IsTokenId
  bool Id(std::string* hex);                            // a 16-byte byte string, as 32 hex
  bool Bool(bool* out);

  // The limits Decode() gives ParseCbor (cbor_internal.h's defaults).
  static constexpr size_t kMaxDepth = CborLimits{}.max_depth;
  static constexpr size_t kMaxContainer = CborLimits{}.max_container;
  static constexpr size_t kMaxNodes = CborLimits{}.max_nodes;
  static constexpr size_t kMaxByteString = CborLimits{}.max_byte_string;
  static constexpr uint64_t kMaxInt = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

 private:
  bool CheckText(std::string_view s) const;
  bool Deeper(size_t level) const;

  const uint8_t* p_;
  const uint8_t* end_;
  Checks checks_;
  size_t nodes_ = 0;
};

// The value of a simple item (major 7) as ParseCbor reads it: false, true,
// null, or a finite half, single or double float (into `*out` if given).
bool CborSimpleValue(const CborCursor::Head& h, nlohmann::json* out);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_CBOR_CURSOR_INTERNAL_H_
