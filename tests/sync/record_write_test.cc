// EncodeRecordCbor (sync/src/record_write.cc) against
// json::to_cbor(ToJson(record)), the form revisions were stored in before:
// the same bytes for every optional key, so old and new rows read the same.
#include "record_write_internal.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doorstep/core/hlc.h"
#include "protocol_internal.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

std::string ToCbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

PulledRecord Plain() {
  PulledRecord r;
  r.id = std::string(32, 'a');
  r.type = "visit_note";
  r.subject_id = "S-001";
  r.rev = 1;
  r.author_id = "worker-1";
  r.device_id = std::string(32, 'd');
  r.created_at = r.updated_at = r.server_received_at = 1'760'000'000'000;
  r.hlc = core::HlcStamp{r.updated_at, 3, r.device_id}.Encode();
  r.fields = {{"purpose", "Line 1\nLine 2 \xc3\xa9"}, {"child_seen", true}, {"score", 2.5},
              {"nested", {{"a", json::array({1, -2, nullptr})}}}};
  return r;
}

TEST(RecordWriteTest, SameBytesAsToCborOfTheWireForm) {
  std::vector<PulledRecord> cases;
  cases.push_back(Plain());
  PulledRecord full = Plain();
  full.rev = 7;
  full.status = "final";
  full.flags = {"duplicate_term", "late"};
  full.amends = 6;
  full.deleted = true;
  full.schema_version = 2;
  full.updated_at += 5000;
  full.server_received_at = full.updated_at - 70'000;  // a negative delta
  full.base_rev = 5;
  full.hlc = core::HlcStamp{full.updated_at + 1, 0, full.device_id}.Encode();
  cases.push_back(full);
  PulledRecord other = Plain();
  other.status = "in_review";
  other.id = "not-hex-id";
  other.device_id = "device-x";
  other.hlc = core::HlcStamp{other.updated_at, 1, std::string(32, 'e')}.Encode();  // another device's
  other.server_received_at += 12;
  other.fields = json::object();
  cases.push_back(other);
  PulledRecord odd = Plain();
  odd.fields = nullptr;
  odd.created_at = -1;
  odd.amends = 0;
  cases.push_back(odd);
  for (const PulledRecord& r : cases) {
    std::string expected = ToCbor(internal::ToJson(r));
    EXPECT_EQ(internal::EncodeRecordCbor(r), expected) << internal::ToJson(r).dump();
  }
}

}  // namespace
}  // namespace doorstep::sync
