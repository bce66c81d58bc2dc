// A real SyncServer on 127.0.0.1 (port 0) with ClientChannel devices.
#include "doorstep/sync/sync_server.h"

#include "doorstep/sync/channel_client.h"
#include "net_server_fixture.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using testing::ServerFixture;
using testing::ServerFixtureP;

class ServerNetTest : public testing::WithNetServer<ServerFixtureP> {
 protected:
  // Enrols `keys` as a new device of `practitioner`; returns its device id.
  std::string EnrolOverNetwork(const KeyPair& keys, const std::string& practitioner,
                               const std::string& role) {
    auto code = core_->Enroll(practitioner, role);
    EXPECT_TRUE(code.ok());
    std::string dev = RandomHex();
    auto ch = Connect(keys, EncodeEnrolRequest({code->code, dev}));
    EXPECT_TRUE(ch.ok()) << ch.status().ToString();
    auto w = Call<Welcome>(**ch, Hello{});
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w->device_id, dev);
    (void)(*ch)->Send(Encode(Bye{}));
    return dev;
  }
};

TEST_P(ServerNetTest, EnrolPushPullOverTcp) {
  KeyPair keys = GenerateKeyPair(*real_.random);
  std::string dev = EnrolOverNetwork(keys, "worker-1", "social_worker");
  ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
  SessionContext who{dev, "worker-1", "social_worker"};
  auto ch = Connect(keys);
  ASSERT_TRUE(ch.ok()) << ch.status().ToString();
  auto w = Call<Welcome>(**ch, Hello{kProtocolVersion, 0, 1, false, 0, false});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->practitioner, "worker-1");
  std::string id = RandomHex();
  auto pushed = Call<Pushed>(**ch, Push{{Create(who, id, "visit_note", "S-1", Sample("visit_note"))}});
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  ASSERT_EQ(pushed->r.size(), 1u);
  EXPECT_EQ(pushed->r[0].outcome, Outcome::kApplied);
  auto batch = Call<Batch>(**ch, Pull{0, 0});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].id, id);
  EXPECT_FALSE(batch->more);
  // A no-op sync: hello with pull → welcome and the first batch, one round trip.
  auto ch2 = Connect(keys);
  ASSERT_TRUE(ch2.ok());
  Hello h{kProtocolVersion, batch->checkpoint, 0, true, 0};
  ASSERT_TRUE((*ch2)->Send(Encode(h)).ok());
  auto w2 = (*ch2)->Receive();
  ASSERT_TRUE(w2.ok());
  EXPECT_TRUE(DecodeAs<Welcome>(*w2).ok());
  auto b2 = (*ch2)->Receive();
  ASSERT_TRUE(b2.ok());
  auto eb = DecodeAs<Batch>(*b2);
  ASSERT_TRUE(eb.ok());
  EXPECT_TRUE(eb->records.empty());
  EXPECT_LT(w2->size() + b2->size(), 256u);
}

TEST_P(ServerNetTest, UnknownAndRevokedDevicesGetAnErrorMessage) {
  KeyPair stranger = GenerateKeyPair(*real_.random);
  auto ch = Connect(stranger);
  ASSERT_TRUE(ch.ok()) << ch.status().ToString();
  auto r = (*ch)->Receive();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto e = DecodeAs<Error>(*r);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, kErrNotEnrolled);

  KeyPair keys = GenerateKeyPair(*real_.random);
  std::string dev = EnrolOverNetwork(keys, "worker-1", "social_worker");
  ASSERT_TRUE(core_->Revoke(dev).ok());  // as `server revoke` would, meanwhile
  auto ch2 = Connect(keys);
  ASSERT_TRUE(ch2.ok());
  auto r2 = (*ch2)->Receive();
  ASSERT_TRUE(r2.ok());
  auto e2 = DecodeAs<Error>(*r2);
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(e2->code, kErrRevoked);
  EXPECT_FALSE((*ch2)->Receive().ok());  // closed

  // A used code is refused as an enrolment.
  auto code = core_->Enroll("worker-2", "manager");
  ASSERT_TRUE(code.ok());
  KeyPair k3 = GenerateKeyPair(*real_.random), k4 = GenerateKeyPair(*real_.random);
  auto ok = Connect(k3, EncodeEnrolRequest({code->code, RandomHex()}));
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(Call<Welcome>(**ok, Hello{}).ok());
  auto reused = Connect(k4, EncodeEnrolRequest({code->code, RandomHex()}));
  ASSERT_TRUE(reused.ok());
  auto r4 = (*reused)->Receive();
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(DecodeAs<Error>(*r4)->code, kErrEnrolmentRefused);
}

TEST_P(ServerNetTest, BadMessageClosesOnlyThatSession) {
  KeyPair a = GenerateKeyPair(*real_.random), b = GenerateKeyPair(*real_.random);
  EnrolOverNetwork(a, "worker-1", "social_worker");
  EnrolOverNetwork(b, "worker-2", "social_worker");
  auto ca = Connect(a);
  auto cb = Connect(b);
  ASSERT_TRUE(ca.ok() && cb.ok());
  ASSERT_TRUE(Call<Welcome>(**ca, Hello{}).ok());
  ASSERT_TRUE(Call<Welcome>(**cb, Hello{}).ok());
  ASSERT_TRUE((*ca)->Send("\xff\x00garbage").ok());
  auto r = (*ca)->Receive();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(DecodeAs<Error>(*r)->code, kErrBadMessage);
  EXPECT_FALSE((*ca)->Receive().ok());
  auto batch = Call<Batch>(**cb, Pull{0, 0});
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
}

TEST_P(ServerNetTest, UnsupportedVersionSaysWhich) {
  KeyPair a = GenerateKeyPair(*real_.random);
  EnrolOverNetwork(a, "worker-1", "social_worker");
  auto ca = Connect(a);
  ASSERT_TRUE(ca.ok());
  Hello h;
  h.v = 7;
  auto r = Call<Welcome>(**ca, h);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(kErrUnsupportedVersion), std::string::npos);
}

DOORSTEP_BOTH_BACKENDS(ServerNetTest);

}  // namespace
}  // namespace doorstep::sync
