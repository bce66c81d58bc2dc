// Protocol 2's stored forms: revisions a server stored in protocol 1's map
// are still read, and rewritten into the wire form before a pull sends them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

json V1Record() {
  return {{"id", std::string(32, '1')}, {"type", "visit_note"}, {"subject_id", "S-1"}, {"rev", 3},
          {"status", "final"}, {"flags", json::array()}, {"amends", nullptr}, {"deleted", false},
          {"author_id", "worker-1"}, {"device_id", std::string(32, '2')}, {"schema_version", 1},
          {"hlc", "1760000000000-00000001-" + std::string(32, '2')}, {"created_at", 1760000000000},
          {"updated_at", 1760000000000}, {"server_received_at", 1760000000100}, {"base_rev", 2},
          {"fields", {{"purpose", "Line 1\nLine 2"}}}};
}

std::string Cbor(const json& j) {
  auto v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

TEST(ProtocolStoredTest, ProtocolOneRecordIsReadAndUpgraded) {
  json v1 = V1Record();
  auto rec = internal::PulledRecordFromJson(v1, "revision");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->id, std::string(32, '1'));
  EXPECT_EQ(rec->status, "final");

  std::string stored = Cbor(V1Record());
  ASSERT_TRUE(internal::UpgradeStoredRecord(&stored).ok());
  EXPECT_LT(stored.size(), Cbor(V1Record()).size() / 2);
  Batch b;
  b.raw_records.push_back(stored);
  auto got = DecodeAs<Batch>(Encode(b));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->records.size(), 1u);
  const PulledRecord& r = got->records[0];
  EXPECT_EQ(r.id, rec->id);
  EXPECT_EQ(r.hlc, rec->hlc);
  EXPECT_EQ(r.server_received_at, 1760000000100);
  EXPECT_EQ(r.base_rev, 2);
  EXPECT_EQ(r.fields, rec->fields);

  // The wire form is left as it is, and read back the same.
  std::string wire = stored;
  ASSERT_TRUE(internal::UpgradeStoredRecord(&wire).ok());
  EXPECT_EQ(wire, stored);
  json j = json::from_cbor(wire);
  auto again = internal::PulledRecordFromJson(j, "revision");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->hlc, rec->hlc);
}

TEST(ProtocolStoredTest, DamagedProtocolOneRecordIsDataLoss) {
  json v1 = V1Record();
  v1["rev"] = "three";
  std::string stored = Cbor(v1);
  EXPECT_EQ(internal::UpgradeStoredRecord(&stored).code(), StatusCode::kDataLoss);
}

// A name libFuzzer gives the inputs it keeps: the SHA-1 of the bytes in hex.
bool IsFuzzerFound(const std::string& name) {
  return name.size() == 40 &&
         name.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The hand-made seeds (named files) must be well-formed messages, so a wire
// change that leaves them behind fails here; inputs libFuzzer found and
// kept (named by their SHA-1) are mostly refusals, replayed by the fuzz
// target's own ctest instead.
TEST(ProtocolStoredTest, FuzzSeedsAreWellFormedMessages) {
  const std::filesystem::path dir =
      std::filesystem::path(DOORSTEP_TEST_SOURCE_DIR) / "tests/fuzz/corpus/fuzz_protocol_decode";
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename() == "enrol" || IsFuzzerFound(e.path().filename().string())) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto m = Decode(ss.str());
    EXPECT_TRUE(m.ok()) << e.path() << ": " << m.status().ToString();
    if (m.ok()) {
      EXPECT_EQ(Encode(*m), Encode(*Decode(Encode(*m))));
    }
    ++n;
  }
  EXPECT_GE(n, 10u);
}

}  // namespace
}  // namespace doorstep::sync
