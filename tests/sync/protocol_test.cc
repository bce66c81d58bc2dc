#include "doorstep/sync/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace doorstep::sync {
namespace {

using json = nlohmann::json;

std::string Hex(char c) { return std::string(32, c); }

Mutation SampleMutation() {
  Mutation m;
  m.mutation_id = Hex('a');
  m.record_id = Hex('b');
  m.type = "visit_note";
  m.subject_id = "S-001";
  m.base_rev = 3;
  m.changes["purpose"] = {json("Line 1\nLine 2"), json("Line 1\nLine 2b")};
  m.changes["child_seen"] = {json(nullptr), json(true)};
  m.status = "final";
  m.amends = 2;
  m.flags = {"child_not_seen"};
  m.schema_version = 1;
  m.hlc = "1760000000000:0001:dev";
  m.created_at = 1760000000000;
  m.updated_at = 1760000000500;
  m.author_id = "worker-1";
  m.device_id = Hex('c');
  return m;
}

std::string Cbor(const json& j) {
  auto v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

json PushJson() { return json::from_cbor(Encode(Push{{SampleMutation()}})); }

TEST(ProtocolTest, HelloRoundTrip) {
  Hello h;
  h.since = 42;
  h.pending = 7;
  h.pull = true;
  h.max = 500;
  auto r = DecodeAs<Hello>(Encode(h));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->v, 2);
  EXPECT_EQ(r->since, 42u);
  EXPECT_EQ(r->pending, 7u);
  EXPECT_TRUE(r->pull);
  EXPECT_EQ(r->max, 500u);
}

TEST(ProtocolTest, WelcomeAndErrorRoundTrip) {
  Welcome w{kProtocolVersion, "worker-1", "social_worker", Hex('d'), 123};
  auto r = DecodeAs<Welcome>(Encode(w));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->practitioner, "worker-1");
  EXPECT_EQ(r->device_id, Hex('d'));
  auto e = DecodeAs<Welcome>(Encode(Error{kErrRevoked, "device revoked"}));
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("revoked"), std::string::npos);
  auto bye = DecodeAs<Welcome>(Encode(Bye{}));
  EXPECT_EQ(bye.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, PushRoundTrip) {
  Mutation m = SampleMutation();
  Mutation res = SampleMutation();
  res.kind = MutationKind::kResolve;
  res.conflict_id = Hex('e');
  res.path = "sections.health.needs";
  res.value = "agreed wording";
  auto r = DecodeAs<Push>(Encode(Push{{m, res}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->m.size(), 2u);
  const Mutation& a = r->m[0];
  EXPECT_EQ(a.mutation_id, m.mutation_id);
  EXPECT_EQ(a.changes, m.changes);
  EXPECT_EQ(a.amends, std::optional<int64_t>(2));
  EXPECT_EQ(a.flags, m.flags);
  EXPECT_EQ(a.hlc, m.hlc);
  EXPECT_EQ(a.kind, MutationKind::kPut);
  const Mutation& b = r->m[1];
  EXPECT_EQ(b.kind, MutationKind::kResolve);
  EXPECT_EQ(b.conflict_id, Hex('e'));
  EXPECT_EQ(b.path, "sections.health.needs");
  EXPECT_EQ(b.value, json("agreed wording"));
}

TEST(ProtocolTest, PushedRoundTrip) {
  MutationResult ok{Hex('a'), Outcome::kConflict, 4, {Hex('f')}, "", {}};
  MutationResult bad{Hex('b'), Outcome::kRejected, 0, {}, "invalid",
                     {{"visit_end", "rule", "The visit cannot end before it starts."}}};
  auto r = DecodeAs<Pushed>(Encode(Pushed{{ok, bad}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->r.size(), 2u);
  EXPECT_EQ(r->r[0].outcome, Outcome::kConflict);
  EXPECT_EQ(r->r[0].conflicts, std::vector<std::string>{Hex('f')});
  EXPECT_EQ(r->r[1].reason, "invalid");
  ASSERT_EQ(r->r[1].problems.size(), 1u);
  EXPECT_EQ(r->r[1].problems[0].path, "visit_end");
}

TEST(ProtocolTest, BatchRoundTrip) {
  Batch b;
  PulledRecord rec;
  rec.id = Hex('1');
  rec.type = "pep_update";
  rec.subject_id = "S-2";
  rec.rev = 5;
  rec.status = "final";
  rec.flags = {"duplicate_term"};
  rec.author_id = "worker-2";
  rec.device_id = Hex('2');
  rec.hlc = "x";
  rec.fields = {{"term", "autumn"}, {"attendance_pct", 88}};
  b.records.push_back(rec);
  ConflictInfo c;
  c.conflict_id = Hex('3');
  c.record_id = Hex('1');
  c.subject_id = "S-2";
  c.type = "pep_update";
  c.path = "child_voice";
  c.base = "a";
  c.server = "b";
  c.device = "c";
  c.server_author = "worker-1";
  c.device_author = "worker-2";
  c.state = ConflictState::kResolved;
  c.resolution = "d";
  b.conflicts.push_back(c);
  b.purge = {"S-9"};
  b.checkpoint = 99;
  b.more = true;
  auto r = DecodeAs<Batch>(Encode(b));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->records[0].fields, rec.fields);
  EXPECT_EQ(r->records[0].flags, rec.flags);
  EXPECT_EQ(r->conflicts[0].state, ConflictState::kResolved);
  EXPECT_EQ(r->conflicts[0].resolution, json("d"));
  EXPECT_EQ(r->purge, b.purge);
  EXPECT_EQ(r->checkpoint, 99u);
  EXPECT_TRUE(r->more);
}

TEST(ProtocolTest, RawRecordsAreSplicedIntoTheBatch) {
  PulledRecord rec;
  rec.id = Hex('1');
  rec.type = "visit_note";
  rec.subject_id = "S-1";
  rec.rev = 2;
  rec.author_id = "worker-1";
  rec.device_id = Hex('2');
  rec.fields = {{"purpose", "Line\n"}};
  PulledRecord other = rec;
  other.id = Hex('3');
  auto raw = json::to_cbor(json::from_cbor(Encode(Batch{{rec}, {}, {}, {}, 0, false}))["rs"][0]);
  Batch b;
  b.records.push_back(other);
  b.raw_records.push_back(std::string(raw.begin(), raw.end()));
  b.checkpoint = 5;
  for (const std::string& bytes : {Encode(b), Encode(Message(b))}) {
    auto r = DecodeAs<Batch>(bytes);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->records.size(), 2u);
    EXPECT_EQ(r->records[0].id, Hex('3'));
    EXPECT_EQ(r->records[1].id, Hex('1'));
    EXPECT_EQ(r->records[1].fields, rec.fields);
    EXPECT_EQ(r->checkpoint, 5u);
  }
}

TEST(ProtocolTest, PullAndByeRoundTrip) {
  auto p = DecodeAs<Pull>(Encode(Pull{12, 100}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->since, 12u);
  EXPECT_EQ(p->max, 100u);
  EXPECT_TRUE(DecodeAs<Bye>(Encode(Bye{})).ok());
}

TEST(ProtocolTest, EmptyBatchIsSmall) {
  Batch b;
  b.checkpoint = 123456;
  EXPECT_LE(Encode(b).size(), 20u);
  Hello h;
  h.since = 123456;
  h.pull = true;
  h.max = 2000;
  EXPECT_LE(Encode(h).size(), 40u);
}

TEST(ProtocolTest, RejectsTruncatedAndGarbage) {
  std::string full = Encode(Push{{SampleMutation()}});
  for (size_t n = 0; n < full.size(); n += 7) {
    auto r = Decode(full.substr(0, n));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(Decode(full + "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode("\xff\xff\xff").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(Cbor(json::array({1, 2}))).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(Cbor({{"t", "nope"}})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(Cbor({{"t", 5}})).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, RejectsWrongTypeInEveryMutationField) {
  json good = PushJson();
  ASSERT_TRUE(Decode(Cbor(good)).ok());
  for (const auto& [key, value] : good["m"][0].items()) {
    for (const json& bad : {json(3.5), json("bad value!"), json::array({1}), json::object()}) {
      if (bad == value) continue;
      json j = good;
      j["m"][0][key] = bad;
      // Some stand-ins are valid for these keys (e.g. an empty changes map).
      if ((key == "c" && bad.is_object()) || (key == "h" && bad.is_string())) continue;
      auto r = Decode(Cbor(j));
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << key << " = " << bad.dump();
      EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
    }
  }
}

TEST(ProtocolTest, RejectsMissingFields) {
  json good = PushJson();
  for (const auto& [key, value] : good["m"][0].items()) {
    // Optional: base_rev, kind, changes, status, amends, flags,
    // schema_version, updated_at (as a difference from created_at).
    if (key == "b" || key == "k" || key == "c" || key == "st" || key == "a" || key == "fl" ||
        key == "sv" || key == "ua") {
      continue;
    }
    json j = good;
    j["m"][0].erase(key);
    auto r = Decode(Cbor(j));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

TEST(ProtocolTest, RejectsBadIds) {
  json j = PushJson();
  j["m"][0]["i"] = Hex('a');  // text, not a 16-byte string
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["r"] = json::binary(std::vector<uint8_t>(15, 1));
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["s"] = "has space";
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["s"] = std::string(65, 's');
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, RejectsOversizedCounts) {
  json j = PushJson();
  json one = j["m"][0];
  j["m"] = json::array();
  for (size_t i = 0; i <= kMaxMutationsPerPush; ++i) j["m"].push_back(one);
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kResourceExhausted);

  j = PushJson();
  for (int i = 0; i < 300; ++i) j["m"][0]["c"]["f" + std::to_string(i)] = json::array({nullptr, 1});
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kResourceExhausted);

  json b = json::from_cbor(Encode(Batch{}));
  b["pg"] = json::array();
  for (int i = 0; i < 10001; ++i) b["pg"].push_back("s");
  EXPECT_EQ(Decode(Cbor(b)).status().code(), StatusCode::kResourceExhausted);

  EXPECT_EQ(Decode(std::string(kMaxMessageBytes + 1, '\0')).status().code(),
            StatusCode::kResourceExhausted);
}

TEST(ProtocolTest, RejectsDeepValues) {
  json deep = 1;
  for (int i = 0; i < 20; ++i) deep = json::array({deep});
  json j = PushJson();
  j["m"][0]["c"]["purpose"][1] = deep;
  auto r = Decode(Cbor(j));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // Hostile nesting far beyond any limit must not blow the stack.
  std::string bomb(1u << 20, '\x81');  // array(1) repeated
  bomb.push_back('\x01');
  EXPECT_EQ(Decode(bomb).status().code(), StatusCode::kInvalidArgument);
}

// Field values are checked without building their path; a refused one is
// still named by its path (message, record, field).
TEST(ProtocolTest, RefusedValueIsNamedByItsPath) {
  json deep = 1;
  for (int i = 0; i < 17; ++i) deep = json::array({deep});
  json j = PushJson();
  j["m"][0]["c"]["purpose"][1] = deep;  // over kMaxValueDepth, within the CBOR reader's depth
  auto r = Decode(Cbor(j));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("push.m[0].c.purpose[1]"), std::string::npos) << r.status().message();

  Batch b;
  PulledRecord rec;
  rec.id = Hex('1');
  rec.type = "visit_note";
  rec.subject_id = "S-2";
  rec.rev = 1;
  rec.status = "final";
  rec.author_id = "worker-2";
  rec.device_id = Hex('2');
  rec.hlc = "x";
  rec.fields = {{"purpose", "ok"}, {"summary", "fine"}};
  b.records.push_back(rec);
  b.records.push_back(rec);
  json batch = json::from_cbor(Encode(b));
  batch["rs"][1]["f"]["summary"] = deep;
  auto d = Decode(Cbor(batch));
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("batch.rs[1].f.summary: nested too deep"), std::string::npos)
      << d.status().message();
}

TEST(ProtocolTest, RejectsBinaryTagsBadUtf8AndNonFinite) {
  json j = PushJson();
  j["m"][0]["c"]["purpose"][1] = json::binary({1, 2, 3});
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  // A tagged item (tag 0 then a text string).
  EXPECT_EQ(Decode(std::string("\xc0\x61\x61", 3)).status().code(), StatusCode::kInvalidArgument);
  // {"t": "\xff"} : invalid UTF-8 in a text string.
  EXPECT_EQ(Decode(std::string("\xa1\x61t\x61\xff", 5)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["c"]["purpose"][1] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, RejectsBadEnumsAndRanges) {
  json j = PushJson();
  j["m"][0]["k"] = 2;
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["st"] = "sealed";
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = PushJson();
  j["m"][0]["b"] = -1;
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  json p = {{"t", "pull"}, {"s", 0}, {"m", 2001}};
  EXPECT_EQ(Decode(Cbor(p)).status().code(), StatusCode::kInvalidArgument);
  json resolve = PushJson();
  resolve["m"][0]["k"] = 1;  // missing conflict_id
  EXPECT_EQ(Decode(Cbor(resolve)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, EnrolRequestRoundTrip) {
  auto r = DecodeEnrolRequest(EncodeEnrolRequest({"ABCD-EFGH", Hex('9')}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, "ABCD-EFGH");
  EXPECT_EQ(r->device_id, Hex('9'));
  EXPECT_EQ(DecodeEnrolRequest("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEnrolRequest(Encode(Bye{})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeEnrolRequest(EncodeEnrolRequest({"X", "nothex"})).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, IdsAreSixteenBytesAndTheHlcIsCompact) {
  Mutation m = SampleMutation();
  m.hlc = "1760000000400-0000002a-" + m.device_id;
  json j = json::from_cbor(Encode(Push{{m}}));
  ASSERT_TRUE(j["m"][0]["i"].is_binary());
  EXPECT_EQ(j["m"][0]["i"].get_binary().size(), 16u);
  EXPECT_EQ(j["m"][0]["h"], json::array({-100, 42}));  // relative to updated_at
  EXPECT_FALSE(j["m"][0].contains("d"));            // the push carries it once
  auto r = DecodeAs<Push>(Cbor(j));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->m[0].hlc, m.hlc);
  EXPECT_EQ(r->m[0].device_id, m.device_id);
  EXPECT_EQ(r->m[0].author_id, m.author_id);
  EXPECT_EQ(r->m[0].mutation_id, m.mutation_id);
  // A time or HLC out of range after adding the difference is refused.
  j["m"][0]["h"] = json::array({-int64_t{1760000000501}, 0});
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j["m"][0]["h"] = json::array({0, int64_t{1} << 32});
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  j = json::from_cbor(Encode(Push{{m}}));
  j["m"][0]["ua"] = -int64_t{1760000000001};
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
  // Byte strings longer than an id are refused by the parser.
  j = json::from_cbor(Encode(Push{{m}}));
  j["m"][0]["i"] = json::binary(std::vector<uint8_t>(17, 1));
  EXPECT_EQ(Decode(Cbor(j)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolTest, OtherVersionsHelloIsReadOnlyForItsVersion) {
  // Protocol 1's hello: the decoder reports its version and nothing else,
  // so the server can answer unsupported_version.
  json v1 = {{"t", "hello"}, {"v", 1}, {"since", 5}, {"pending", 0}, {"pull", true}};
  auto r = DecodeAs<Hello>(Cbor(v1));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->v, 1);
  EXPECT_EQ(r->since, 0u);
  // This version's hello keeps protocol 1's required keys.
  json j = json::from_cbor(Encode(Hello{}));
  EXPECT_TRUE(j.contains("since"));
  EXPECT_TRUE(j.contains("pending"));
}

TEST(ProtocolTest, IdPredicates) {
  EXPECT_TRUE(IsHexId(Hex('0')));
  EXPECT_FALSE(IsHexId("abc"));
  EXPECT_TRUE(IsTokenId("worker-1"));
  EXPECT_TRUE(IsTokenId("S:2025.01_x"));
  EXPECT_FALSE(IsTokenId(""));
  EXPECT_FALSE(IsTokenId("a/b"));
}

}  // namespace
}  // namespace doorstep::sync
