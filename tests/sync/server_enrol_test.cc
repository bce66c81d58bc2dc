// Enrolment codes, the handshake's peer decision, hello, revocation.
#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using testing::ServerFixture;
using testing::ServerFixtureP;

class ServerEnrolTest : public ServerFixtureP {
 protected:
  std::string Key() {
    std::string k(32, '\0');
    random_.Fill(k.data(), k.size());
    return k;
  }
};

TEST_P(ServerEnrolTest, CodeLooksRightAndRedeemsOnce) {
  auto code = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->code.size(), 19u);  // 16 chars in 4 groups
  EXPECT_EQ(code->expires_at, clock_.NowMillis() + kEnrolmentCodeLifetimeMs);
  std::string dev = RandomHex();
  auto d = core_->RedeemCode(code->code, dev, Key(), "10.0.0.1");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->practitioner_id, "worker-1");
  EXPECT_EQ(d->role, "social_worker");
  auto again = core_->RedeemCode(code->code, RandomHex(), Key(), "10.0.0.1");
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(ServerEnrolTest, CodeIsCaseAndDashInsensitive) {
  auto code = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(code.ok());
  std::string lower;
  for (char c : code->code) if (c != '-') lower.push_back(static_cast<char>(std::tolower(c)));
  EXPECT_TRUE(core_->RedeemCode(lower, RandomHex(), Key(), "a").ok());
}

TEST_P(ServerEnrolTest, ExpiredCodeIsRefused) {
  auto code = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(code.ok());
  clock_.AdvanceMillis(kEnrolmentCodeLifetimeMs);
  EXPECT_EQ(core_->RedeemCode(code->code, RandomHex(), Key(), "a").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(ServerEnrolTest, WrongCodesAreRateLimitedPerSource) {
  for (size_t i = 0; i < kMaxWrongCodesPerMinute; ++i) {
    EXPECT_EQ(core_->RedeemCode("AAAA-AAAA-AAAA-AAAA", RandomHex(), Key(), "10.0.0.9").status().code(),
              StatusCode::kUnauthenticated);
  }
  auto good = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(good.ok());
  // Even the right code is refused from that source for a minute...
  EXPECT_EQ(core_->RedeemCode(good->code, RandomHex(), Key(), "10.0.0.9").status().code(),
            StatusCode::kResourceExhausted);
  // ...but another source is not affected.
  EXPECT_EQ(core_->RedeemCode("AAAA-AAAA-AAAA-AAAB", RandomHex(), Key(), "10.0.0.8").status().code(),
            StatusCode::kUnauthenticated);
  clock_.AdvanceMillis(61 * 1000);
  EXPECT_TRUE(core_->RedeemCode(good->code, RandomHex(), Key(), "10.0.0.9").ok());
}

TEST_P(ServerEnrolTest, BadRoleOrIdIsRefused) {
  EXPECT_EQ(core_->Enroll("worker-1", "janitor").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(core_->Enroll("bad id", "manager").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ServerEnrolTest, AuthenticatePeerDecides) {
  std::string key = Key();
  // Unknown key without a payload: not enrolled.
  EXPECT_EQ(core_->AuthenticatePeer(key, "", "a").status().code(), StatusCode::kUnauthenticated);
  // Unknown key with a valid enrolment request: enrolled.
  auto code = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(code.ok());
  std::string dev = RandomHex();
  auto ctx = core_->AuthenticatePeer(key, EncodeEnrolRequest({code->code, dev}), "a");
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->device_id, dev);
  EXPECT_EQ(ctx->practitioner_id, "worker-1");
  // Known key: accepted without payload.
  auto again = core_->AuthenticatePeer(key, "", "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->device_id, dev);
  auto welcome = core_->Hello(*again, Hello{});
  ASSERT_TRUE(welcome.ok());
  EXPECT_EQ(welcome->practitioner, "worker-1");
  EXPECT_EQ(welcome->role, "social_worker");
  EXPECT_EQ(welcome->device_id, dev);
  // Revoked: refused.
  ASSERT_TRUE(core_->Revoke(dev).ok());
  EXPECT_EQ(core_->AuthenticatePeer(key, "", "a").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->Hello(*again, Hello{}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->Revoke(RandomHex()).code(), StatusCode::kNotFound);
}

TEST_P(ServerEnrolTest, UnsupportedVersionIsRefused) {
  SessionContext who = Device("worker-1", "social_worker");
  for (int64_t v : {kProtocolVersion - 1, kProtocolVersion + 1}) {
    Hello h;
    h.v = v;
    auto r = core_->Hello(who, h);
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("version " + std::to_string(kProtocolVersion)), std::string::npos);
  }
  // A protocol 1 device's hello, as it sends it, decodes far enough for that.
  std::vector<uint8_t> v1 = nlohmann::json::to_cbor(
      {{"t", "hello"}, {"v", 1}, {"since", 0}, {"pending", 3}, {"pull", false}});
  auto h1 = DecodeAs<Hello>(std::string(v1.begin(), v1.end()));
  ASSERT_TRUE(h1.ok()) << h1.status().ToString();
  EXPECT_EQ(core_->Hello(who, *h1).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(ServerEnrolTest, DevicesListed) {
  Device("worker-1", "social_worker");
  Device("manager-1", "manager");
  auto ds = core_->Devices();
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds->size(), 2u);
}

DOORSTEP_BOTH_BACKENDS(ServerEnrolTest);

}  // namespace
}  // namespace doorstep::sync
