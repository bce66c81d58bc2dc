// Fuzzes the sync protocol's decoder (protocol.h) with arbitrary bytes: it
// must never crash, throw or hang, and whatever it accepts must re-encode to
// a message that decodes to the same encoding (the codec is a fixed point).
// The enrolment payload decoder gets the same bytes. Differentially: the
// server's fast push decoder (push_read_internal.h) and the device's fast
// batch reader (pull_read_internal.h) accept nothing Decode() refuses and
// read what they accept as Decode() does; a decoded push is written
// (push_write.cc) exactly as json::to_cbor writes its json form; and the
// bytes read as any CBOR value are written by CborWriter exactly as
// json::to_cbor writes them.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cbor_writer.h"
#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"
#include "pull_read_internal.h"
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
  if (auto fast_batch = doorstep::sync::internal::ReadBatchFast(bytes)) {
    Check(msg.ok() && std::holds_alternative<doorstep::sync::Batch>(*msg));
    Check(doorstep::sync::Encode(*fast_batch) == doorstep::sync::Encode(*msg));
  }
  if (msg.ok()) {
    if (const auto* push = std::get_if<doorstep::sync::Push>(&*msg)) {
      std::vector<uint8_t> want = nlohmann::json::to_cbor(doorstep::sync::internal::PushToJson(*push));
      Check(doorstep::sync::Encode(*msg) == std::string(want.begin(), want.end()));
    }
  }
  nlohmann::json any;
  try {  // from_cbor throws for some sizes even when asked not to
    any = nlohmann::json::from_cbor(data, data + size, /*strict=*/true, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    any = nlohmann::json(nlohmann::json::value_t::discarded);
  }
  if (!any.is_discarded()) {
    std::string got;
    doorstep::sync::internal::CborWriter(&got).Json(any);
    std::vector<uint8_t> want = nlohmann::json::to_cbor(any);
    Check(got == std::string(want.begin(), want.end()));
  }
  auto enrol = doorstep::sync::DecodeEnrolRequest(bytes);
  if (enrol.ok()) {
    auto again = doorstep::sync::DecodeEnrolRequest(doorstep::sync::EncodeEnrolRequest(*enrol));
    Check(again.ok() && again->code == enrol->code && again->device_id == enrol->device_id);
  }
  return 0;
}
