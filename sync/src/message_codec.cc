#include "message_codec.h"

#include <algorithm>

namespace doorstep::sync::internal {

Status MessageAssembler::Add(std::string_view chunk, std::deque<std::string>* done) {
  if (chunk.empty()) return DataLossError("empty transport message");
  const unsigned char kind = static_cast<unsigned char>(chunk[0]);
  chunk.remove_prefix(1);
  if (kind == kChunkStart) {
    if (in_message_) return DataLossError("message start inside a message");
    if (chunk.size() < kStartHeaderBytes - 1) return DataLossError("short message header");
    size_t total = 0;
    for (int i = 0; i < 4; ++i) total = (total << 8) | static_cast<unsigned char>(chunk[i]);
    chunk.remove_prefix(4);
    // The limit is checked before any allocation.
    if (total > max_) {
      return ResourceExhaustedError("peer announced a " + std::to_string(total) +
                                    "-byte message; the limit is " + std::to_string(max_));
    }
    if (chunk.size() > total) return DataLossError("message longer than announced");
    current_.clear();
    current_.reserve(total);
    expected_ = total;
    in_message_ = true;
  } else if (kind == kChunkContinue) {
    if (!in_message_) return DataLossError("message continuation outside a message");
    if (chunk.empty()) return DataLossError("empty message continuation");
    if (chunk.size() > expected_ - current_.size()) {
      return DataLossError("message longer than announced");
    }
  } else {
    return DataLossError("unexpected transport message kind " + std::to_string(kind));
  }
  current_.append(chunk);
  if (current_.size() == expected_) {
    done->push_back(std::move(current_));
    current_ = std::string();
    in_message_ = false;
  }
  return Status::Ok();
}

bool MessageSplitter::Next(std::string* chunk) {
  if (started_ && offset_ >= message_.size()) return false;
  chunk->clear();
  if (!started_) {
    chunk->push_back(static_cast<char>(kChunkStart));
    const uint32_t total = static_cast<uint32_t>(message_.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      chunk->push_back(static_cast<char>((total >> shift) & 0xff));
    }
    started_ = true;
  } else {
    chunk->push_back(static_cast<char>(kChunkContinue));
  }
  size_t n = std::min(message_.size() - offset_, kMaxChunkBytes - chunk->size());
  chunk->append(message_.data() + offset_, n);
  offset_ += n;
  return true;
}

}  // namespace doorstep::sync::internal
