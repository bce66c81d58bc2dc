// The device's fast batch reader (sync/src/pull_read.cc) against Decode():
// whatever it takes it reads exactly as Decode() does, it gives up on what
// it does not take (and Decode() then reads it), and every bad input gets
// Decode()'s own answer through DecodeServerMessage.
#include <gtest/gtest.h>

#include <string>

#include "doorstep/sync/protocol.h"
#include "pull_read_internal.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using internal::DecodeServerMessage;
using internal::ReadBatchFast;

std::string Hex(char c) { return std::string(32, c); }

PulledRecord Rec(int i) {
  PulledRecord r;
  r.id = Hex("0123456789abcdef"[i % 16]);
  r.type = "visit_note";
  r.subject_id = "child-" + std::to_string(i);
  r.rev = 1 + i;
  r.author_id = "worker-1";
  r.device_id = Hex('c');
  r.created_at = 1760000000000 + i;
  r.updated_at = r.created_at + (i % 3) * 500;
  r.server_received_at = r.updated_at + (i % 2) * 20;
  r.hlc = "1760000000500-0000000" + std::to_string(i % 10) + "-" + r.device_id;
  r.fields = {{"purpose", "Line 1\nLine 2 \xc3\xa9"},
              {"child_seen", i % 2 == 0},
              {"n", -5 - i},
              {"u", 70000 + i},
              {"f", 0.25 + i},
              {"nested", {{"a", json::array({1, "x", nullptr, json::object()})}, {"b", 1e300}}},
              {"none", nullptr}};
  if (i % 2) {
    r.status = "final";
    r.flags = {"child_not_seen", "late"};
    r.amends = i;
  }
  if (i % 3 == 0) {
    r.deleted = true;
    r.schema_version = 2;
    r.base_rev = i;
    r.hlc = "other-hlc-text";  // not this device's: sent as text
  }
  return r;
}

Batch Sample(int n) {
  Batch b;
  for (int i = 0; i < n; ++i) b.records.push_back(Rec(i));
  b.checkpoint = 4242;
  b.more = true;
  return b;
}

// What Decode() answers for `bytes`, as comparable text.
std::string Answer(const Result<Message>& m) {
  if (!m.ok()) return "error " + std::to_string(static_cast<int>(m.status().code())) + " " + m.status().message();
  return std::string(MessageTypeName(*m)) + " " + Encode(*m);
}

void ExpectSameAsDecode(const std::string& bytes) {
  EXPECT_EQ(Answer(DecodeServerMessage(bytes)), Answer(Decode(bytes)));
  if (std::optional<Batch> fast = ReadBatchFast(bytes)) {
    auto slow = DecodeAs<Batch>(bytes);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    EXPECT_EQ(Encode(*fast), Encode(*slow));
  }
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(PullReadTest, ReadsBatchesAsDecodeDoes) {
  for (int n : {0, 1, 7, 40}) {
    Batch b = Sample(n);
    const std::string bytes = Encode(b);
    std::optional<Batch> fast = ReadBatchFast(bytes);
    ASSERT_TRUE(fast.has_value()) << n;
    auto slow = DecodeAs<Batch>(bytes);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    EXPECT_EQ(Encode(*fast), Encode(*slow));
    EXPECT_EQ(Encode(*fast), bytes);
    ASSERT_EQ(fast->records.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const PulledRecord& r = fast->records[static_cast<size_t>(i)];
      const PulledRecord want = Rec(i);
      EXPECT_EQ(r.id, want.id);
      EXPECT_EQ(r.hlc, want.hlc);
      EXPECT_EQ(r.updated_at, want.updated_at);
      EXPECT_EQ(r.server_received_at, want.server_received_at);
      EXPECT_EQ(r.amends, want.amends);
      EXPECT_EQ(r.fields, want.fields);
      EXPECT_EQ(r.fields["u"].type(), json::value_t::number_unsigned);
      EXPECT_EQ(r.fields["n"].type(), json::value_t::number_integer);
    }
    EXPECT_EQ(fast->checkpoint, 4242u);
    EXPECT_TRUE(fast->more);
  }
  Batch noop;
  noop.checkpoint = 7;
  ASSERT_TRUE(ReadBatchFast(Encode(noop)).has_value());
}

TEST(PullReadTest, GivesUpOnWhatItDoesNotTakeAndDecodeReadsIt) {
  Batch b = Sample(3);
  b.records[1].fields["marker"] = "@@MARK@@";
  const std::string bytes = Encode(b);
  const std::string marker = "\x68@@MARK@@";
  std::string cases[] = {
      Replace(bytes, marker, std::string("\xF9\x3C\x00", 3)),            // a half float (1.0; taken)
      Replace(bytes, marker, "\x9F\x01\x02\xFF"),          // an indefinite-length array
      Replace(bytes, marker, "\x7F\x61x\x61y\xFF"),        // an indefinite-length string
      Replace(bytes, marker, std::string("\xA2\x61k\x01\x61k\x02", 7)),  // a duplicated key
      Replace(bytes, marker, "\x18\x05"),                  // a non-shortest integer (taken)
  };
  for (const std::string& c : cases) {
    auto slow = DecodeAs<Batch>(c);
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    ExpectSameAsDecode(c);
  }
  // Half floats are read as ParseCbor reads them (the cursor is the push
  // reader's too, which always took them).
  std::optional<Batch> half = ReadBatchFast(cases[0]);
  ASSERT_TRUE(half.has_value());
  EXPECT_EQ(half->records[1].fields["marker"], json(1.0));
  // Conflicts and purge notices are read by Decode().
  Batch with = Sample(2);
  ConflictInfo c;
  c.conflict_id = Hex('3');
  c.record_id = Hex('1');
  c.subject_id = "S-2";
  c.type = "pep_update";
  c.path = "child_voice";
  c.server_author = "worker-1";
  c.device_author = "worker-2";
  with.conflicts.push_back(c);
  with.purge = {"S-9"};
  EXPECT_FALSE(ReadBatchFast(Encode(with)).has_value());
  ExpectSameAsDecode(Encode(with));
  // A key it does not know (a later server's), in a record and in the batch.
  json j = json::from_cbor(Encode(Sample(2)));
  j["rs"][0]["zz"] = 1;
  std::vector<uint8_t> v = json::to_cbor(j);
  EXPECT_FALSE(ReadBatchFast(std::string(v.begin(), v.end())).has_value());
  ExpectSameAsDecode(std::string(v.begin(), v.end()));
  // Another message type.
  Welcome w{kProtocolVersion, "worker-1", "social_worker", Hex('d'), 123};
  EXPECT_FALSE(ReadBatchFast(Encode(w)).has_value());
  ExpectSameAsDecode(Encode(w));
  ExpectSameAsDecode(Encode(Error{"revoked", "no"}));
}

TEST(PullReadTest, BadInputGetsDecodesAnswer) {
  const std::string bytes = Encode(Sample(3));
  // Every truncation, and every byte changed to a few telling values.
  for (size_t n = 0; n < bytes.size(); ++n) ExpectSameAsDecode(bytes.substr(0, n));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char x : {0x00, 0x17, 0x18, 0x1B, 0x3B, 0x40, 0x5F, 0x61, 0x7F, 0x80, 0x9F, 0xA0, 0xBF,
                            0xC0, 0xF4, 0xF6, 0xF7, 0xF9, 0xFB, 0xFF}) {
      std::string c = bytes;
      c[i] = static_cast<char>(x);
      ExpectSameAsDecode(c);
    }
  }
  ExpectSameAsDecode(bytes + "x");  // trailing bytes
}

TEST(PullReadTest, ValueChecksAndCapsMatchDecode) {
  Batch b = Sample(1);
  json deep = 1;
  for (int i = 0; i < 16; ++i) deep = json::array({deep});
  b.records[0].fields["deep"] = deep;  // at the limit: taken
  ASSERT_TRUE(ReadBatchFast(Encode(b)).has_value());
  ExpectSameAsDecode(Encode(b));
  b.records[0].fields["deep"] = json::array({deep});  // one more: refused
  EXPECT_FALSE(DecodeServerMessage(Encode(b)).ok());
  ExpectSameAsDecode(Encode(b));
  b.records[0].fields["deep"] = std::string(kMaxValueBytes, 'x');
  ASSERT_TRUE(ReadBatchFast(Encode(b)).has_value());
  b.records[0].fields["deep"] = json::array({std::string(kMaxValueBytes / 2, 'x'), std::string(kMaxValueBytes / 2, 'y')});
  ExpectSameAsDecode(Encode(b));
  b.records[0].fields["deep"] = json::array({std::string(kMaxValueBytes / 2, 'x'), std::string(kMaxValueBytes / 2 + 1, 'y')});
  EXPECT_FALSE(DecodeServerMessage(Encode(b)).ok());
  ExpectSameAsDecode(Encode(b));
  b = Sample(1);
  for (int i = 0; i < 300; ++i) b.records[0].fields["k" + std::to_string(i)] = i;
  EXPECT_EQ(DecodeServerMessage(Encode(b)).status().code(), StatusCode::kResourceExhausted);
  ExpectSameAsDecode(Encode(b));
  b = Sample(1);
  b.records[0].fields["bad key"] = 1;
  ExpectSameAsDecode(Encode(b));
  b = Sample(1);
  b.records[0].flags.assign(33, "f");
  ExpectSameAsDecode(Encode(b));
  Batch many;
  for (size_t i = 0; i <= kMaxRecordsPerBatch; ++i) many.records.push_back(Rec(0));
  EXPECT_EQ(DecodeServerMessage(Encode(many)).status().code(), StatusCode::kResourceExhausted);
  ExpectSameAsDecode(Encode(many));
}

}  // namespace
}  // namespace doorstep::sync
