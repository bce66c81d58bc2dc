// Bad input against a real SyncServer on 127.0.0.1: malformed CBOR, a value
// of the wrong kind in every field of every message, oversized counts and
// lengths, unknown message and record types, truncated frames and a flood of
// wrong enrolment codes. Each gets a clear error (an `error` message with a
// code, naming the field), only that session ends, another device's session
// keeps being served throughout, and nothing stored changes (a digest of
// every table but the audit log is compared before and after; the audit
// chain still verifies).
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "../e2e/cut_proxy.h"
#include "bad_input_util.h"
#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/sync_server.h"
#include "net_server_fixture.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using testing::ServerFixture;

class BadInputTest : public testing::WithNetServer<ServerFixture> {
 protected:
  void SetUp() override {
    WithNetServer::SetUp();
    if (HasFatalFailure()) return;
    // Device A (the one sending bad input) and bystander B, each with a record.
    a_keys_ = GenerateKeyPair(*real_.random);
    b_keys_ = GenerateKeyPair(*real_.random);
    a_ = Enrol(a_keys_, "worker-1");
    b_ = Enrol(b_keys_, "worker-2");
    ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
    ASSERT_TRUE(core_->Assign("worker-2", "S-2").ok());
    good_ = Create(a_, RandomHex(), "visit_note", "S-1", Sample("visit_note"));
    ASSERT_EQ(PushOne(a_, good_).outcome, Outcome::kApplied);
    ASSERT_EQ(PushOne(b_, Create(b_, RandomHex(), "visit_note", "S-2", Sample("visit_note"))).outcome,
              Outcome::kApplied);
    {  // A's first hello records when it was last seen: a change, made here.
      auto a = Connect(a_keys_);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_TRUE(Call<Welcome>(**a, Hello{}).ok());
    }
    auto bystander = Connect(b_keys_);
    ASSERT_TRUE(bystander.ok()) << bystander.status().ToString();
    bystander_ = std::move(bystander).value();
    ASSERT_TRUE(Call<Welcome>(*bystander_, Hello{}).ok());
    digest_ = testing::StoreDigest(dir_ + "/server.db");
    ASSERT_FALSE(digest_.empty());
  }
  void TearDown() override {
    bystander_.reset();
    WithNetServer::TearDown();
  }

  SessionContext Enrol(const KeyPair& keys, const std::string& practitioner) {
    auto code = core_->Enroll(practitioner, "social_worker");
    EXPECT_TRUE(code.ok());
    std::string dev = RandomHex();
    EXPECT_TRUE(core_->RedeemCode(code->code, dev, keys.public_key, "10.9.9.9").ok());
    return SessionContext{dev, practitioner, "social_worker"};
  }
  // Sends `bytes` from device A (after hello unless `first`) and returns the
  // server's error; checks the session is then closed.
  Error SendBad(const std::string& bytes, bool first = false) {
    auto ch = Connect(a_keys_);
    EXPECT_TRUE(ch.ok()) << ch.status().ToString();
    if (!ch.ok()) return Error{};
    if (!first) {
      EXPECT_TRUE(Call<Welcome>(**ch, Hello{}).ok());
    }
    EXPECT_TRUE((*ch)->Send(bytes).ok());
    auto reply = (*ch)->Receive();
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    if (!reply.ok()) return Error{};
    auto e = DecodeAs<Error>(*reply);
    EXPECT_TRUE(e.ok()) << "not an error: " << e.status().ToString();
    EXPECT_FALSE((*ch)->Receive().ok()) << "the session stays open after bad input";
    return e.ok() ? *e : Error{};
  }

  // The bystander's session is still served, and nothing stored changed.
  void ExpectServingAndUnchanged() {
    auto batch = Call<Batch>(*bystander_, Pull{0, 0});
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_EQ(batch->records.size(), 1u);
    EXPECT_EQ(testing::StoreDigest(dir_ + "/server.db"), digest_);
    EXPECT_TRUE(core_->VerifyAudit().ok());
  }

  KeyPair a_keys_, b_keys_;
  std::unique_ptr<ClientChannel> bystander_;
  SessionContext a_, b_;
  Mutation good_;
  std::string digest_;
};

// Inside a field value: below a change's [from, to] (".c.<field>[i]...") or a
// resolve's value (".va...").
bool InsideValue(const std::string& path) {
  for (const char* v : {".va.", ".va["}) {
    if (path.find(v) != std::string::npos) return true;
  }
  size_t c = path.find(".c.");
  if (c == std::string::npos) return false;
  size_t close = path.find(']', c);
  return close != std::string::npos && close + 1 < path.size();
}

std::string Cbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

TEST_F(BadInputTest, MalformedCborGetsBadMessage) {
  const std::string push = Encode(Push{{good_}});
  std::vector<std::string> bad = {
      "", std::string("\xff", 1), std::string("\x00", 1), "garbage", std::string("\xa1\x61t", 3),
      std::string("\xbf\x61t\x64push", 8),                                  // unterminated map
      push + std::string("\x00", 1),                                       // trailing bytes
      std::string(5000, '\x81') + std::string("\x00", 1),                  // nesting 5000 deep
      std::string("\xa1\x61t\x7f\x61p\x61u", 8),                            // broken indefinite string
      Cbor({{"t", 5}}), Cbor(json::array({"push"})), Cbor({{"x", "push"}}),
  };
  for (size_t cut : {1u, 2u, 7u, 40u, 200u, 500u}) {
    if (cut < push.size()) bad.push_back(push.substr(0, cut));  // truncated messages
  }
  for (const auto& b : bad) {
    Error e = SendBad(b);
    EXPECT_EQ(e.code, kErrBadMessage) << e.message;
    EXPECT_FALSE(e.message.empty());
  }
  ExpectServingAndUnchanged();
}

TEST_F(BadInputTest, WrongKindInEveryFieldOfEveryMessage) {
  // Server → device messages: a device decodes them with the same decoder;
  // each variant it refuses must name the field.
  Mutation resolve = good_;
  resolve.kind = MutationKind::kResolve;
  resolve.conflict_id = RandomHex();
  resolve.path = "purpose";
  resolve.value = "Line 1\n";
  Batch batch;
  PulledRecord rec;
  rec.id = RandomHex();
  rec.type = "visit_note";
  rec.subject_id = "S-1";
  rec.hlc = good_.hlc;
  rec.rev = 1;
  rec.author_id = "worker-1";
  rec.device_id = a_.device_id;
  rec.created_at = rec.updated_at = rec.server_received_at = 5;
  rec.fields = {{"purpose", "x\n"}};
  batch.records.push_back(rec);
  batch.conflicts.push_back(ConflictInfo{RandomHex(), rec.id, "S-1", "visit_note", "purpose", "a", "b", "c",
                                         "worker-1", "worker-2", 1, 2, 1, ConflictState::kOpen, nullptr});
  batch.purge = {"S-9"};
  MutationResult result{good_.mutation_id, Outcome::kRejected, 0, {RandomHex()}, "invalid",
                        {Problem{"purpose", "required", "Purpose is required."}}};
  const Message every[] = {Hello{kProtocolVersion, 1, 2, true, 3},
                           Welcome{kProtocolVersion, "worker-1", "social_worker", RandomHex(), 5},
                           Push{{good_, resolve}}, Pushed{{result}}, Pull{1, 2}, batch, Bye{},
                           Error{"bad_message", "text"}};
  size_t refused = 0, sent = 0;
  std::set<std::string> sent_paths;
  for (const Message& m : every) {
    ASSERT_TRUE(Decode(Encode(m)).ok()) << MessageTypeName(m) << ": " << Decode(Encode(m)).status().ToString();
    const bool to_server = std::holds_alternative<Hello>(m) || std::holds_alternative<Push>(m) ||
                           std::holds_alternative<Pull>(m) || std::holds_alternative<Bye>(m);
    for (const auto& v : testing::WrongTypeVariants(Encode(m))) {
      auto d = Decode(v.cbor);
      if (d.ok()) continue;  // a kind the field may hold (e.g. null for absent)
      ++refused;
      EXPECT_TRUE(d.status().code() == StatusCode::kInvalidArgument ||
                  d.status().code() == StatusCode::kResourceExhausted) << v.path;
      // Byte strings longer than an id are refused by the CBOR reader itself,
      // before fields are looked at, with a message that names no field.
      // A short byte string (an id's kind) inside a field value is refused by
      // the value check, which names the field holding the value.
      const bool binary = d.status().message() == "byte strings not allowed" ||
                          d.status().message().find(": not a JSON value") != std::string::npos;
      if (!v.key.empty() && v.key != "t" && !binary) {
        EXPECT_NE(d.status().message().find(v.key), std::string::npos)
            << MessageTypeName(m) << v.path << ": " << d.status().message();
      }
      // Over the network: one variant per field, not inside field values
      // (any JSON but binary is a legal value there; the decoder checks
      // those paths above).
      if (!to_server || InsideValue(v.path) || !sent_paths.insert(MessageTypeName(m) + v.path).second) {
        continue;
      }
      ++sent;
      Error e = SendBad(v.cbor, std::holds_alternative<Hello>(m));
      EXPECT_EQ(e.code, kErrBadMessage) << v.path;
      EXPECT_EQ(e.message, d.status().message()) << v.path;
    }
  }
  EXPECT_GT(refused, 300u);
  EXPECT_GT(sent, 100u);
  // Well-formed messages the server never takes from a device.
  for (const Message& m : {every[1], every[3], every[5], every[7]}) {
    EXPECT_EQ(SendBad(Encode(m)).code, kErrBadMessage) << MessageTypeName(m);
  }
  EXPECT_EQ(SendBad(Cbor({{"t", "frobnicate"}})).code, kErrBadMessage);
  ExpectServingAndUnchanged();
}

TEST_F(BadInputTest, OversizedCountsAndLengthsAreRefusedBeforeUse) {
  Push many;
  for (size_t i = 0; i <= kMaxMutationsPerPush; ++i) {
    Mutation m = good_;
    m.mutation_id = RandomHex();
    many.m.push_back(m);
  }
  Mutation wide = good_;
  wide.mutation_id = RandomHex();
  for (size_t i = 0; i <= kMaxChangesPerMutation; ++i) wide.changes["f" + std::to_string(i)] = {nullptr, 1};
  Mutation deep = good_;
  deep.mutation_id = RandomHex();
  json v = 1;
  for (int i = 0; i < 40; ++i) v = json::array({v});
  deep.changes["purpose"] = {nullptr, v};
  Mutation long_token = good_;
  long_token.mutation_id = RandomHex();
  long_token.subject_id = std::string(kMaxTokenBytes + 1, 'S');
  const std::string head("\xa2\x61t\x64push\x61m", 10);
  const std::vector<std::string> bad = {
      Encode(many), Encode(Push{{wide}}), Encode(Push{{deep}}), Encode(Push{{long_token}}),
      head + std::string("\x9b\x00\x00\x00\x01\x00\x00\x00\x00", 9),  // array of 2^32 mutations
      head + std::string("\x9b\xff\xff\xff\xff\xff\xff\xff\xff", 9),  // array of 2^64-1
      head + std::string("\x7b\x40\x00\x00\x00\x00\x00\x00\x00", 9),  // string of 2^62 bytes
      head + std::string("\xbb\x00\x00\x00\x00\xff\xff\xff\xff", 9),  // map of 2^32-1 pairs
      Cbor({{"t", "hello"}, {"v", 1}, {"since", std::string(kMaxStringBytes + 1, '9')}}),
  };
  for (const auto& b : bad) {
    Error e = SendBad(b);
    EXPECT_EQ(e.code, kErrBadMessage) << e.message;
    EXPECT_FALSE(e.message.empty());
  }
  ExpectServingAndUnchanged();
}

TEST_F(BadInputTest, UnknownRecordTypeIsRejectedAndReplaysChangeNothing) {
  auto ch = Connect(a_keys_);
  ASSERT_TRUE(ch.ok());
  ASSERT_TRUE(Call<Welcome>(**ch, Hello{}).ok());
  Mutation m = good_;
  m.mutation_id = RandomHex();
  m.record_id = RandomHex();
  m.type = "secret_diary";
  auto r = Call<Pushed>(**ch, Push{{m, good_}});  // the good one is a replay
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->r.size(), 2u);
  EXPECT_EQ(r->r[0].outcome, Outcome::kRejected);
  EXPECT_EQ(r->r[0].reason, "invalid");
  ASSERT_EQ(r->r[0].problems.size(), 1u);
  EXPECT_EQ(r->r[0].problems[0].path, "type");
  EXPECT_EQ(r->r[1].outcome, Outcome::kApplied);
  // Whatever the server keeps of that answer (exactly-once bookkeeping) is
  // now stored; from here on, nothing may change the digest.
  digest_ = testing::StoreDigest(dir_ + "/server.db");
  auto again = Call<Pushed>(**ch, Push{{m, good_}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->r[0].outcome, Outcome::kRejected);
  ExpectServingAndUnchanged();
}

TEST_F(BadInputTest, TruncatedFramesEndOnlyThatConnection) {
  // Raw TCP before the handshake completes: a cut length prefix, a frame
  // shorter than its prefix, an empty frame, a huge prefix.
  const std::vector<std::string> raw = {std::string("\x00", 1), std::string("\xff\xff\x01\x02\x03", 5),
                                        std::string("\x00\x00", 2), std::string(70000, '\xff')};
  for (const auto& bytes : raw) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(server_->port());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    (void)!::write(fd, bytes.data(), bytes.size());
    ::close(fd);
  }
  // After the handshake: a push cut at several points inside its frames.
  e2e::CutProxy proxy(server_->port());
  {
    auto ch = Connect(a_keys_, "", proxy.port());
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE(Call<Welcome>(**ch, Hello{}).ok());
  }
  const uint64_t before_push = proxy.to_server();
  Mutation fresh = Create(a_, RandomHex(), "visit_note", "S-1", Sample("visit_note"));
  const size_t push_bytes = Encode(Push{{fresh}}).size();
  for (uint64_t cut : {before_push + 1, before_push + 2, before_push + 3, before_push + push_bytes / 2,
                       before_push + push_bytes - 1}) {
    proxy.Arm(e2e::CutDirection::kToServer, cut);
    auto ch = Connect(a_keys_, "", proxy.port());
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE(Call<Welcome>(**ch, Hello{}).ok());
    (void)(*ch)->Send(Encode(Push{{fresh}}));
    EXPECT_FALSE((*ch)->Receive().ok()) << "cut at " << cut;
  }
  proxy.Disarm();
  ExpectServingAndUnchanged();
}

TEST_F(BadInputTest, WrongEnrolmentCodeFloodIsRateLimitedPerAddress) {
  // 20 concurrent enrolments with wrong codes from 127.0.0.1: at most 5 are
  // looked at, the rest are refused as rate limited.
  constexpr int kFlood = 20;
  std::vector<std::string> codes(kFlood);
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&, i] {
      KeyPair k = GenerateKeyPair(*real_.random);
      auto ch = Connect(k, EncodeEnrolRequest({"AAAA-BBBB-CCCC-DDD" + std::to_string(i % 10), std::string(32, 'a')}));
      if (!ch.ok()) return;
      auto r = (*ch)->Receive();
      if (!r.ok()) return;
      auto e = DecodeAs<Error>(*r);
      if (e.ok()) codes[i] = e->code;
    });
  }
  for (auto& t : threads) t.join();
  int refused = 0, limited = 0;
  for (const auto& c : codes) {
    refused += c == kErrEnrolmentRefused;
    limited += c == kErrRateLimited;
  }
  EXPECT_LE(refused, static_cast<int>(kMaxWrongCodesPerMinute));
  EXPECT_GE(refused, 1);
  EXPECT_EQ(refused + limited, kFlood);
  // A garbled enrolment payload is refused too, and even a right code from
  // this address must wait the minute out.
  auto code = core_->Enroll("worker-3", "manager");
  ASSERT_TRUE(code.ok());
  digest_ = testing::StoreDigest(dir_ + "/server.db");
  KeyPair k = GenerateKeyPair(*real_.random);
  auto ch = Connect(k, EncodeEnrolRequest({code->code, RandomHex()}));
  ASSERT_TRUE(ch.ok());
  auto r = (*ch)->Receive();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(DecodeAs<Error>(*r)->code, kErrRateLimited);
  ExpectServingAndUnchanged();
  clock_.AdvanceMillis(61 * 1000);
  auto later = Connect(k, EncodeEnrolRequest({code->code, RandomHex()}));
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(Call<Welcome>(**later, Hello{}).ok());
  auto garbled = Connect(GenerateKeyPair(*real_.random), "\xa1\x61t\x65" "enrol");
  ASSERT_TRUE(garbled.ok());
  auto g = (*garbled)->Receive();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(DecodeAs<Error>(*g)->code, kErrEnrolmentRefused);
}

}  // namespace
}  // namespace doorstep::sync
