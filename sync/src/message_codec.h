// The plaintext inside each Noise transport message (docs/transport.md):
// one kind byte, then a body. Application messages are split into a kStart
// chunk (kind, 4-byte big-endian total length, first bytes) and kContinue
// chunks (kind, next bytes); the responder's verdict on the handshake is one
// kAccept or kRefuse chunk. Private to doorstep_sync.
// Thread safety: not thread-safe.
#ifndef DOORSTEP_SYNC_MESSAGE_CODEC_H_
#define DOORSTEP_SYNC_MESSAGE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "doorstep/core/status.h"
#include "doorstep/sync/noise_cipher_state.h"

namespace doorstep::sync::internal {

enum ChunkKind : unsigned char {
  kChunkAccept = 0x01,    // responder → initiator, first transport message; empty body
  kChunkRefuse = 0x02,    // responder → initiator, first and last; code (1) + reason
  kChunkStart = 0x03,     // total length (4, big-endian) + first bytes
  kChunkContinue = 0x04,  // next bytes
};

// The largest plaintext of one transport message (65535 minus the tag).
inline constexpr size_t kMaxChunkBytes = kNoiseMaxMessageBytes - kNoiseTagBytes;
inline constexpr size_t kStartHeaderBytes = 5;
inline constexpr size_t kMaxRefuseReasonBytes = 512;

// Reassembles application messages from kStart/kContinue chunk plaintexts.
class MessageAssembler {
 public:
  explicit MessageAssembler(size_t max_message_bytes) : max_(max_message_bytes) {}

  // Adds one chunk plaintext (kind byte included). A completed message is
  // appended to *done. kResourceExhausted if a kStart announces more than the
  // limit (checked before anything is allocated); kDataLoss for a chunk out
  // of place (kStart inside a message, kContinue outside one), one that
  // overruns its announced length, or an unknown kind.
  Status Add(std::string_view chunk, std::deque<std::string>* done);
  // True while a message is partly received.
  bool in_message() const { return in_message_; }

 private:
  size_t max_;
  bool in_message_ = false;
  size_t expected_ = 0;
  std::string current_;
};

// Builds the chunk plaintexts of `message` one at a time: Next() fills
// *chunk with the next plaintext and returns false once all are produced.
class MessageSplitter {
 public:
  explicit MessageSplitter(std::string_view message) : message_(message) {}
  bool Next(std::string* chunk);

 private:
  std::string_view message_;
  size_t offset_ = 0;
  bool started_ = false;
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_MESSAGE_CODEC_H_
