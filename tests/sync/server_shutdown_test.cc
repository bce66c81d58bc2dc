// A SyncServer destroyed while the server core is still committing a call
// of one of its sessions waits for that call: its answer is posted into the
// server's io_context from the core's thread, and its callback holds the
// session's connection, whose socket belongs to that io_context (a race
// ThreadSanitizer found at the end of a test, session 12).
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/sync_server.h"
#include "server_fixture.h"

namespace doorstep::sync {
namespace {

// The fixture's store, except that a write transaction begun once Arm() has
// been called waits until Release().
class HeldStore : public ServerStore {
 public:
  explicit HeldStore(ServerStore* real) : real_(real) {}
  Result<std::unique_ptr<ServerTxn>> Begin(TxnMode mode) override {
    if (mode == TxnMode::kWrite) {
      std::unique_lock<std::mutex> lock(mu_);
      if (armed_) {
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
      }
    }
    return real_->Begin(mode);
  }
  void Arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
  }
  bool WaitHeld(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return held_; });
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  ServerStore* real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, held_ = false, released_ = false;
};

using ServerShutdownTest = testing::ServerFixture;

TEST_F(ServerShutdownTest, DestroyingTheServerWaitsForACallTheCoreIsStillCommitting) {
  Env real = RealEnv();
  KeyPair keys = GenerateKeyPair(*real.random);
  auto code = core_->Enroll("worker-1", "social_worker");
  ASSERT_TRUE(code.ok());
  std::string dev = RandomHex();
  ASSERT_TRUE(core_->RedeemCode(code->code, dev, keys.public_key, "10.9.9.9").ok());

  HeldStore held(store_.get());
  Env env{&clock_, real.random, &logger_};
  auto net_core = std::make_unique<ServerCore>(&held, env);
  KeyPair server_keys = GenerateKeyPair(*real.random);
  auto started = SyncServer::Start(net_core.get(), server_keys.Clone(), env, {});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<SyncServer> server = std::move(started).value();
  auto ch = ClientChannel::Connect("127.0.0.1", server->port(), keys.Clone(), server_keys.public_key, "",
                                   *real.random);
  ASSERT_TRUE(ch.ok()) << ch.status().ToString();

  // The device's first hello records when it was last seen: a write the
  // core's committer makes, held here.
  held.Arm();
  ASSERT_TRUE((*ch)->Send(Encode(Hello{})).ok());
  ASSERT_TRUE(held.WaitHeld(std::chrono::seconds(10))) << "the hello's write never reached the store";

  auto destroyed = std::async(std::launch::async, [&server] { server.reset(); });
  EXPECT_EQ(destroyed.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "the server went while the core still held its session's call";
  held.Release();
  ASSERT_EQ(destroyed.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the server did not go once the call was done";
  destroyed.get();
  ch->reset();
  net_core.reset();
}

}  // namespace
}  // namespace doorstep::sync
