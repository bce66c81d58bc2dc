// Fuzzes the sync protocol's decoder (protocol.h) with arbitrary bytes: it
// must never crash, throw or hang, and whatever it accepts must re-encode to
// a message that decodes to the same encoding (the codec is a fixed point).
// The enrolment payload decoder gets the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "doorstep/sync/protocol.h"

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
  auto enrol = doorstep::sync::DecodeEnrolRequest(bytes);
  if (enrol.ok()) {
    auto again = doorstep::sync::DecodeEnrolRequest(doorstep::sync::EncodeEnrolRequest(*enrol));
    Check(again.ok() && again->code == enrol->code && again->device_id == enrol->device_id);
  }
  return 0;
}
