// FrameReader: splits a byte stream into frames of a 2-byte big-endian length
// followed by that many bytes (one Noise message, at most 65535 bytes).
// The buffer is bounded by the 16-bit length, so no length from the wire can
// make it allocate more than 64 KiB. Private to doorstep_sync.
// Thread safety: not thread-safe.
#ifndef DOORSTEP_SYNC_FRAME_READER_H_
#define DOORSTEP_SYNC_FRAME_READER_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace doorstep::sync::internal {

inline constexpr size_t kFrameHeaderBytes = 2;

class FrameReader {
 public:
  // Consumes bytes of `in` up to the end of the current frame and returns
  // how many it took (less than in.size() only when a frame completed).
  // REQUIRES: !has_frame().
  size_t Consume(std::string_view in);
  // True when a whole frame is buffered; frame() is its body until Next().
  bool has_frame() const { return complete_; }
  std::string_view frame() const { return body_; }
  // Drops the completed frame and starts the next one.
  void Next();
  // True when no partial frame is buffered (the stream is at a boundary).
  bool at_boundary() const { return header_len_ == 0 && !complete_; }

 private:
  unsigned char header_[kFrameHeaderBytes] = {};
  size_t header_len_ = 0;
  size_t body_len_ = 0;
  std::string body_;
  bool complete_ = false;
};

// Appends the 2-byte big-endian frame header for a body of `len` bytes.
// REQUIRES: len <= 65535.
void AppendFrameHeader(size_t len, std::string* out);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_FRAME_READER_H_
