// The wrong-enrolment-code limit (kMaxWrongCodesPerMinute per source per
// minute) is shared by every server on one store: two ServerCores, each
// with its own store object and connections (its own pool on PostgreSQL,
// its own connection to server.db on SQLite), as two `server run`
// processes would have.
#include <thread>
#include <vector>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using testing::ServerFixtureP;

class ServerWrongCodeTest : public ServerFixtureP {
 protected:
  void SetUp() override {
    ServerFixtureP::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto second = Open(key_.Clone(), /*create=*/false);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    second_store_ = std::move(second).value();
    second_ = std::make_unique<ServerCore>(second_store_.get(), env_);
  }
  void TearDown() override {
    second_.reset();
    second_store_.reset();
    ServerFixtureP::TearDown();
  }
  std::string Key() {
    std::string k(32, '\0');
    random_.Fill(k.data(), k.size());
    return k;
  }
  StatusCode Wrong(ServerCore& via, const std::string& source) {
    return via.RedeemCode("AAAA-AAAA-AAAA-AAAA", RandomHex(), Key(), source).status().code();
  }

  std::unique_ptr<ServerStore> second_store_;
  std::unique_ptr<ServerCore> second_;
};

TEST_P(ServerWrongCodeTest, SixthWrongCodeIsRefusedWhicheverServerItHits) {
  for (size_t i = 0; i < kMaxWrongCodesPerMinute; ++i) {
    EXPECT_EQ(Wrong(i % 2 ? *core_ : *second_, "10.0.0.9"), StatusCode::kUnauthenticated) << i;
  }
  EXPECT_EQ(Wrong(*core_, "10.0.0.9"), StatusCode::kResourceExhausted);
  EXPECT_EQ(Wrong(*second_, "10.0.0.9"), StatusCode::kResourceExhausted);
  // Even the right code waits the minute out, on either server...
  auto good = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(second_->RedeemCode(good->code, RandomHex(), Key(), "10.0.0.9").status().code(),
            StatusCode::kResourceExhausted);
  // ...another source is not affected...
  EXPECT_EQ(Wrong(*second_, "10.0.0.8"), StatusCode::kUnauthenticated);
  // ...and a refused attempt does not take a slot: after the minute the
  // budget is whole again.
  clock_.AdvanceMillis(61 * 1000);
  EXPECT_TRUE(second_->RedeemCode(good->code, RandomHex(), Key(), "10.0.0.9").ok());
  // Single use holds across servers too.
  EXPECT_EQ(core_->RedeemCode(good->code, RandomHex(), Key(), "10.0.0.7").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(ServerWrongCodeTest, RightCodesDoNotUseTheBudget) {
  for (int i = 0; i < 8; ++i) {
    auto code = (i % 2 ? core_ : second_)->Enroll("worker-" + std::to_string(i), "manager");
    ASSERT_TRUE(code.ok());
    EXPECT_TRUE((i % 2 ? second_ : core_)->RedeemCode(code->code, RandomHex(), Key(), "10.0.0.5").ok()) << i;
  }
  EXPECT_EQ(Wrong(*core_, "10.0.0.5"), StatusCode::kUnauthenticated);
}

TEST_P(ServerWrongCodeTest, ConcurrentFloodThroughBothServersStopsAtTheLimit) {
  // 24 wrong codes at once from one source, half through each server: at
  // most kMaxWrongCodesPerMinute are looked at, whatever the interleaving.
  constexpr int kFlood = 24;
  std::vector<StatusCode> codes(kFlood, StatusCode::kOk);
  std::vector<std::string> keys, ids;
  for (int i = 0; i < kFlood; ++i) {
    keys.push_back(Key());
    ids.push_back(RandomHex());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&, i] {
      ServerCore& via = i % 2 ? *core_ : *second_;
      codes[i] = via.RedeemCode("AAAA-BBBB-CCCC-DDDD", ids[i], keys[i], "192.0.2.1").status().code();
    });
  }
  for (auto& t : threads) t.join();
  int looked_at = 0, limited = 0;
  for (StatusCode c : codes) {
    looked_at += c == StatusCode::kUnauthenticated;
    limited += c == StatusCode::kResourceExhausted;
  }
  EXPECT_EQ(looked_at, static_cast<int>(kMaxWrongCodesPerMinute));
  EXPECT_EQ(looked_at + limited, kFlood);
  // The store holds exactly those attempts, and both servers refuse the next.
  EXPECT_EQ(Wrong(*core_, "192.0.2.1"), StatusCode::kResourceExhausted);
  EXPECT_EQ(Wrong(*second_, "192.0.2.1"), StatusCode::kResourceExhausted);
}

DOORSTEP_BOTH_BACKENDS(ServerWrongCodeTest);

}  // namespace
}  // namespace doorstep::sync
