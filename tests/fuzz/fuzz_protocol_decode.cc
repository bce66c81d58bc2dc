// Fuzzes the sync protocol's decoder (protocol.h) with arbitrary bytes: it
// must never crash, throw or hang, and whatever it accepts must re-encode to
// a message that decodes to the same encoding (the codec is a fixed point).
// The enrolment payload decoder gets the same bytes, and the server's fast
// push decoder (push_read_internal.h) must accept nothing Decode() refuses,
// and read what it accepts as Decode() does.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "doorstep/sync/protocol.h"
#include "push_read_internal.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto msg = doorstep::sync::Decode(bytes);
  if (msg.ok()) {
    std::string once = doorstep::sync::Encode(*msg);
    auto again = doorstep::sync::Decode(once);
    Check(again.ok());
    Check(doorstep::sync::Encode(*again) == once);
  }
  auto fast = doorstep::sync::internal::ReadPushFast(bytes);
  if (fast) {
    Check(msg.ok() && std::holds_alternative<doorstep::sync::Push>(*msg));
    Check(doorstep::sync::Encode(doorstep::sync::Message(*fast)) == doorstep::sync::Encode(*msg));
  }
  auto enrol = doorstep::sync::DecodeEnrolRequest(bytes);
  if (enrol.ok()) {
    auto again = doorstep::sync::DecodeEnrolRequest(doorstep::sync::EncodeEnrolRequest(*enrol));
    Check(again.ok() && again->code == enrol->code && again->device_id == enrol->device_id);
  }
  return 0;
}
