// A real SyncServer on 127.0.0.1 (port 0) over a server fixture's store, for
// tests that talk to it through ClientChannel: WithNetServer<ServerFixture>
// (SQLite only) or WithNetServer<ServerFixtureP> (both backends). The
// network side uses the real, thread-safe random source; the store's clock
// stays the fixture's FakeClock. Synthetic data only.
#ifndef DOORSTEP_TESTS_SYNC_NET_SERVER_FIXTURE_H_
#define DOORSTEP_TESTS_SYNC_NET_SERVER_FIXTURE_H_

#include <memory>
#include <string>

#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/sync_server.h"
#include "server_fixture.h"

namespace doorstep::sync::testing {

template <class Base>
class WithNetServer : public Base {
 protected:
  void SetUp() override {
    Base::SetUp();
    if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return;
    real_ = RealEnv();
    Env env{&this->clock_, real_.random, &this->logger_};
    net_core_ = std::make_unique<ServerCore>(this->store_.get(), env);
    server_keys_ = GenerateKeyPair(*real_.random);
    auto s = SyncServer::Start(net_core_.get(), server_keys_.Clone(), env, {});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    server_.reset();
    net_core_.reset();
    Base::TearDown();
  }

  // A Noise session as the device with `keys` (enrolment `payload` in the
  // handshake when not empty) to the server, or to `port` (e.g. a proxy's).
  Result<std::unique_ptr<ClientChannel>> Connect(const KeyPair& keys, std::string payload = "",
                                                 uint16_t port = 0) {
    return ClientChannel::Connect("127.0.0.1", port ? port : server_->port(), keys.Clone(),
                                  server_keys_.public_key, std::move(payload), *real_.random);
  }
  // Sends `m` and decodes the answer as a T.
  template <typename T>
  Result<T> Call(ClientChannel& ch, const Message& m) {
    DS_RETURN_IF_ERROR(ch.Send(Encode(m)));
    DS_ASSIGN_OR_RETURN(std::string bytes, ch.Receive());
    return DecodeAs<T>(bytes);
  }

  Env real_;
  KeyPair server_keys_;
  std::unique_ptr<ServerCore> net_core_;
  std::unique_ptr<SyncServer> server_;
};

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_NET_SERVER_FIXTURE_H_
