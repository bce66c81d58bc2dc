// The server's fast push decoder (push_read_internal.h) against the codec:
// whatever it accepts, Decode() accepts with the same contents, and whatever
// it leaves to Decode() gets Decode()'s answer.
#include "push_read_internal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bad_input_util.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

std::string Hex(char c) { return std::string(32, c); }

Mutation Put(char id, const std::string& device) {
  Mutation m;
  m.mutation_id = Hex(id);
  m.record_id = Hex(static_cast<char>(id + 1));
  m.type = "visit_note";
  m.subject_id = "S-001";
  m.changes["purpose"] = {json(nullptr), json("Line 1\nLine 2 \xc3\xa9")};
  m.changes["child_seen"] = {json(false), json(true)};
  m.changes["n"] = {json(-5), json(std::uint64_t{1} << 60)};
  m.changes["x"] = {json(1.5), json(-0.25)};
  m.changes["nested"] = {json::object(), json({{"a", json::array({1, "two", nullptr, json::object()})},
                                               {"b", {{"c", 3}}}})};
  m.hlc = "1760000000000-0000002a-" + device;
  m.created_at = 1760000000000;
  m.updated_at = 1760000000500;
  m.author_id = "worker-1";
  m.device_id = device;
  return m;
}

Push SamplePush() {
  Push p;
  p.m.push_back(Put('a', Hex('c')));
  Mutation edit = Put('d', Hex('c'));
  edit.base_rev = 3;
  edit.status = "final";
  edit.amends = 2;
  edit.flags = {"child_not_seen", "late"};
  edit.schema_version = 4;
  edit.hlc = "1760000000000-00000001-" + Hex('9');  // another device's clock
  edit.updated_at = edit.created_at - 10;
  p.m.push_back(edit);
  Mutation other = Put('e', Hex('e'));  // another author and device than the push's
  other.author_id = "worker-2";
  p.m.push_back(other);
  Mutation resolve;
  resolve.mutation_id = Hex('1');
  resolve.record_id = Hex('b');
  resolve.type = "visit_note";
  resolve.subject_id = "S-001";
  resolve.base_rev = 2;
  resolve.kind = MutationKind::kResolve;
  resolve.conflict_id = Hex('2');
  resolve.path = "sections.health";
  resolve.value = json({{"text", "chosen"}});
  resolve.hlc = "1760000000001-00000000-" + Hex('c');
  resolve.created_at = resolve.updated_at = 1760000000001;
  resolve.author_id = "worker-1";
  resolve.device_id = Hex('c');
  p.m.push_back(resolve);
  return p;
}

std::string Cbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

// The fast path agrees with Decode() on `bytes`.
void ExpectSame(const std::string& bytes, const std::string& what) {
  std::optional<Push> fast = internal::ReadPushFast(bytes);
  Result<Message> slow = Decode(bytes);
  if (fast) {
    ASSERT_TRUE(slow.ok()) << what << ": fast path accepted what Decode refuses: " << slow.status().ToString();
    ASSERT_TRUE(std::holds_alternative<Push>(*slow)) << what;
    EXPECT_EQ(Encode(Message(*fast)), Encode(*slow)) << what;
  }
  Result<Message> server = internal::DecodeOnServer(bytes);
  ASSERT_EQ(server.ok(), slow.ok()) << what;
  if (slow.ok()) {
    EXPECT_EQ(Encode(*server), Encode(*slow)) << what;
  } else {
    EXPECT_EQ(server.status().code(), slow.status().code()) << what;
    EXPECT_EQ(server.status().message(), slow.status().message()) << what;
  }
}

TEST(PushReadTest, ReadsWhatTheCodecWrites) {
  std::string bytes = Encode(Message(SamplePush()));
  std::optional<Push> fast = internal::ReadPushFast(bytes);
  for (size_t i = 0; i < 4; ++i) {
    Push one;
    one.m.push_back(SamplePush().m[i]);
    EXPECT_TRUE(internal::ReadPushFast(Encode(Message(one)))) << i;
  }
  ASSERT_TRUE(fast.has_value());
  ASSERT_EQ(fast->m.size(), 4u);
  EXPECT_EQ(Encode(Message(*fast)), bytes);
  const Mutation& a = fast->m[0];
  EXPECT_EQ(a.mutation_id, Hex('a'));
  EXPECT_EQ(a.hlc, "1760000000000-0000002a-" + Hex('c'));
  EXPECT_TRUE(a.changes.at("n").from.is_number_integer() && !a.changes.at("n").from.is_number_unsigned());
  EXPECT_TRUE(a.changes.at("n").to.is_number_unsigned());
  EXPECT_TRUE(a.changes.at("x").to.is_number_float());
  EXPECT_EQ(fast->m[1].status, "final");
  EXPECT_EQ(fast->m[1].amends, 2);
  EXPECT_EQ(fast->m[2].author_id, "worker-2");
  EXPECT_EQ(fast->m[2].device_id, Hex('e'));
  EXPECT_EQ(fast->m[3].kind, MutationKind::kResolve);
  EXPECT_EQ(fast->m[3].value, json({{"text", "chosen"}}));
  ExpectSame(bytes, "sample");
  ExpectSame(Encode(Message(Push{})), "empty push");
}

TEST(PushReadTest, OtherMessagesGoToDecode) {
  EXPECT_FALSE(internal::ReadPushFast(Encode(Message(Hello{}))));
  EXPECT_FALSE(internal::ReadPushFast(Encode(Message(Pull{5, 10}))));
  EXPECT_FALSE(internal::ReadPushFast(""));
  ExpectSame(Encode(Message(Hello{})), "hello");
  ExpectSame(Encode(Message(Pull{5, 10})), "pull");
  ExpectSame(Encode(Message(Bye{})), "bye");
}

TEST(PushReadTest, IrregularPushesGetDecodesAnswer) {
  json push = json::from_cbor(Encode(Message(SamplePush())));
  std::vector<std::pair<std::string, json>> cases;
  auto with = [&](const std::string& what, auto edit) {
    json j = push;
    edit(j);
    cases.emplace_back(what, j);
  };
  with("bad field name", [](json& j) { j["m"][0]["c"]["bad name"] = json::array({nullptr, 1}); });
  with("byte string value", [](json& j) { j["m"][0]["c"]["b"] = json::array({nullptr, json::binary({1})}); });
  with("not [from, to]", [](json& j) { j["m"][0]["c"]["b"] = json::array({1, 2, 3}); });
  with("too deep", [](json& j) {
    json v = 1;
    for (int i = 0; i < 17; ++i) v = json::array({v});
    j["m"][0]["c"]["deep"] = json::array({nullptr, v});
  });
  with("16 deep", [](json& j) {
    json v = 1;
    for (int i = 0; i < 16; ++i) v = json::array({v});
    j["m"][0]["c"]["deep"] = json::array({nullptr, v});
  });
  with("too large", [](json& j) {
    j["m"][0]["c"]["big"] = json::array({nullptr, json::array({std::string(600000, 'x'), std::string(600000, 'y')})});
  });
  with("no hlc", [](json& j) { j["m"][0].erase("h"); });
  with("status 2", [](json& j) { j["m"][0]["st"] = 2; });
  with("amends null", [](json& j) { j["m"][1]["a"] = nullptr; });
  with("amends 0", [](json& j) { j["m"][1]["a"] = 0; });
  with("base float", [](json& j) { j["m"][1]["b"] = 3.0; });
  with("ua before epoch", [](json& j) { j["m"][0]["ua"] = -1760000000001; });
  with("unknown keys", [](json& j) {
    j["zz"] = json::array({1.5, "x"});
    j["m"][0]["zz"] = json::object({{"k", false}});
  });
  with("no author", [](json& j) { j.erase("au"); });
  with("bad device", [](json& j) { j["d"] = "c"; });
  with("not push", [](json& j) { j["t"] = "pushx"; });
  with("m not array", [](json& j) { j["m"] = json::object(); });
  with("too many", [](json& j) {
    json m = j["m"][0];
    j["m"] = json::array();
    for (int i = 0; i < 257; ++i) j["m"].push_back(m);
  });
  with("bad path", [](json& j) { j["m"][3]["pa"] = "a b"; });
  with("no value", [](json& j) { j["m"][3].erase("va"); });
  with("put with junk resolve keys", [](json& j) { j["m"][0]["pa"] = 7; j["m"][0]["ci"] = "x"; });
  for (const auto& [what, j] : cases) ExpectSame(Cbor(j), what);
  // Irregular but valid: the fast path reads these itself.
  for (const char* valid : {"16 deep", "amends null", "unknown keys", "put with junk resolve keys"}) {
    for (const auto& [what, j] : cases) {
      if (what == valid) {
        EXPECT_TRUE(internal::ReadPushFast(Cbor(j))) << what;
      }
    }
  }

  std::string bytes = Encode(Message(SamplePush()));
  ExpectSame(bytes + std::string(1, '\0'), "trailing byte");
  ExpectSame(bytes.substr(0, bytes.size() - 1), "truncated");
  std::string indefinite = bytes;
  indefinite[0] = static_cast<char>(0xBF);  // indefinite-length map
  ExpectSame(indefinite + "\xFF", "indefinite map");
  std::string bad_utf8 = Cbor(json({{"t", "push"}, {"m", json::array()}, {"q", "\xC3\x28"}}));
  ExpectSame(bad_utf8, "invalid UTF-8");
  for (const testing::Variant& v : testing::WrongTypeVariants(bytes)) ExpectSame(v.cbor, v.path);
}

TEST(PushReadTest, RandomDamageNeverAcceptedAlone) {
  std::string bytes = Encode(Message(SamplePush()));
  std::mt19937 rng(6);
  for (int i = 0; i < 3000; ++i) {
    std::string b = bytes;
    int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) b[rng() % b.size()] = static_cast<char>(rng() & 0xFF);
    ExpectSame(b, "damage " + std::to_string(i));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace doorstep::sync
