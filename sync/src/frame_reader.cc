#include "frame_reader.h"

#include <algorithm>

namespace doorstep::sync::internal {

size_t FrameReader::Consume(std::string_view in) {
  size_t used = 0;
  while (header_len_ < kFrameHeaderBytes && used < in.size()) {
    header_[header_len_++] = static_cast<unsigned char>(in[used++]);
    if (header_len_ == kFrameHeaderBytes) {
      body_len_ = (static_cast<size_t>(header_[0]) << 8) | header_[1];
      body_.clear();
    }
  }
  if (header_len_ < kFrameHeaderBytes) return used;
  size_t take = std::min(body_len_ - body_.size(), in.size() - used);
  body_.append(in.data() + used, take);
  used += take;
  if (body_.size() == body_len_) complete_ = true;
  return used;
}

void FrameReader::Next() {
  complete_ = false;
  header_len_ = 0;
  body_len_ = 0;
  body_.clear();
}

void AppendFrameHeader(size_t len, std::string* out) {
  out->push_back(static_cast<char>((len >> 8) & 0xff));
  out->push_back(static_cast<char>(len & 0xff));
}

}  // namespace doorstep::sync::internal
