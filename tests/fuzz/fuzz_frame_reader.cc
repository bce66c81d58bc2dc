// Fuzzes the transport's framing reader and application-message reassembly:
// the input is a byte stream of frames (2-byte length + body) fed in chunks
// of varying size; each frame body is taken as a decrypted transport
// plaintext (kind byte + body) and handed to the MessageAssembler. Checks
// that frames never exceed 65535 bytes, messages never exceed the limit, and
// that every reassembled message survives a split/reassemble round trip.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "frame_reader.h"
#include "message_codec.h"

namespace {

using doorstep::sync::internal::FrameReader;
using doorstep::sync::internal::MessageAssembler;
using doorstep::sync::internal::MessageSplitter;

constexpr size_t kLimit = 200 * 1024;  // small, so the limit path is reachable

void Check(bool ok) {
  if (!ok) std::abort();
}

void RoundTrip(const std::string& message) {
  MessageSplitter splitter(message);
  MessageAssembler again(kLimit);
  std::deque<std::string> out;
  std::string chunk;
  while (splitter.Next(&chunk)) Check(again.Add(chunk, &out).ok());
  Check(out.size() == 1 && out.front() == message && !again.in_message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 97;  // chunking of the stream
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  FrameReader reader;
  MessageAssembler assembler(kLimit);
  std::deque<std::string> done;
  while (!stream.empty()) {
    std::string_view piece = stream.substr(0, step);
    while (!piece.empty()) {
      size_t used = reader.Consume(piece);
      Check(used <= piece.size());
      piece.remove_prefix(used);
      stream.remove_prefix(used);
      if (!reader.has_frame()) continue;
      Check(reader.frame().size() <= 65535);
      doorstep::Status s = assembler.Add(reader.frame(), &done);
      reader.Next();
      if (!s.ok()) return 0;  // the session would end here
    }
  }
  for (const std::string& m : done) {
    Check(m.size() <= kLimit);
    RoundTrip(m);
  }
  return 0;
}
