// CborWriter and the push written with it (sync/src/push_write.cc) against
// nlohmann::json::to_cbor: the same bytes for the same message.
#include "cbor_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "doorstep/sync/protocol.h"
#include "protocol_internal.h"
#include "wire_read_internal.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

std::string ToCbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

std::string Written(const json& j) {
  std::string out;
  internal::CborWriter(&out).Json(j);
  return out;
}

TEST(CborWriterTest, ValuesAsToCbor) {
  const json values[] = {
      nullptr, true, false, 0, 23, 24, 255, 256, 65535, 65536, 4294967295u, 4294967296u,
      std::numeric_limits<uint64_t>::max(), -1, -24, -25, -256, -257, -65537,
      std::numeric_limits<int64_t>::min(), 0.0, -0.0, 0.5, 1.1, 3.4028234663852886e38, 3.5e38, 1e-46,
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), "", "x", std::string(23, 'a'), std::string(24, 'a'),
      std::string(300, 'b'), std::string(70000, 'c'), "\xc3\xa9\xe2\x82\xac",
      json::array(), json::object(), json::array({1, "two", nullptr, json::array({3.5})}),
      {{"b", 1}, {"a", {{"z", json::array()}, {"y", false}}}, {"", "empty key"}},
      json::binary({1, 2, 3}), json::binary({1, 2}, 7),
  };
  for (const json& v : values) EXPECT_EQ(Written(v), ToCbor(v)) << v.dump();
  std::string out;
  internal::CborWriter w(&out);
  w.Id(std::string(32, 'a'));
  w.Id("not-hex");
  EXPECT_EQ(out, ToCbor(internal::WireId(std::string(32, 'a'))) + ToCbor(internal::WireId("not-hex")));
}

Mutation Put(int i) {
  Mutation m;
  m.mutation_id = std::string(32, "0123456789abcdef"[i % 16]);
  m.record_id = std::string(32, 'b');
  m.type = "visit_note";
  m.subject_id = "S-00" + std::to_string(i);
  m.changes["purpose"] = {json("Line 1\nLine 2"), json("Line 1\nLine 2b")};
  m.changes["child_seen"] = {json(nullptr), json(true)};
  m.changes["score"] = {json(-3), json(2.5)};
  m.changes["nested"] = {json::object(), json{{"a", json::array({1, 2})}}};
  m.hlc = "1760000000500-0000000" + std::to_string(i % 10) + "-" + std::string(32, 'c');
  m.created_at = 1760000000000;
  m.updated_at = 1760000000000 + 500 * (i % 2);
  m.author_id = "worker-1";
  m.device_id = std::string(32, 'c');
  if (i % 2) {
    m.base_rev = 3;
    m.status = "final";
    m.amends = 2;
    m.flags = {"child_not_seen"};
    m.schema_version = 2;
  }
  if (i % 3 == 2) {
    m.author_id = "worker-2";       // differs from the push's
    m.device_id = std::string(32, 'd');
    m.hlc = "text-hlc";
  }
  return m;
}

TEST(CborWriterTest, PushAsToCbor) {
  Push p;
  EXPECT_EQ(Encode(p), ToCbor(internal::PushToJson(p)));
  for (int i = 0; i < 6; ++i) p.m.push_back(Put(i));
  Mutation r = Put(7);
  r.kind = MutationKind::kResolve;
  r.changes.clear();
  r.conflict_id = std::string(32, 'e');
  r.path = "sections.health";
  r.value = json{{"x", 1}};
  p.m.push_back(r);
  r.value = nullptr;
  r.status = "odd";  // neither draft nor final: written as text, as ToJson does
  p.m.push_back(r);
  EXPECT_EQ(Encode(p), ToCbor(internal::PushToJson(p)));
  auto back = DecodeAs<Push>(Encode(Push{{Put(1), Put(2)}}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->m[1].changes, Put(2).changes);
}

}  // namespace
}  // namespace doorstep::sync
