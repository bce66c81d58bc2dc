// ClientChannel and ChannelServer over real TCP on 127.0.0.1.
#include "doorstep/sync/asio.h"
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "doorstep/core/secret.h"
#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/channel_server.h"
#include "sync/channel_test_util.h"

namespace doorstep::sync {
namespace {

using testing::AllowList;

// A running ChannelServer on its own io_context thread(s).
class TestServer {
 public:
  TestServer(KeyPair keys, HandshakeAuthorizer authorize, ChannelServer::SessionHandler on_session,
             ServerOptions options = {}, int threads = 1) {
    auto s = ChannelServer::Start(io_, "127.0.0.1", 0, std::move(keys), std::move(authorize),
                                  std::move(on_session), RealEnv(), options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~TestServer() {
    server_->Stop();
    work_.reset();
    server_.reset();
    // Queued work (the connections' aborts and close handlers, which free
    // the channels) runs out first, up to 2 s; stopping at once could drop a
    // handler that holds its channel (a leak for LeakSanitizer).
    for (int i = 0; i < 200 && !io_.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return server_->port(); }
  ChannelServer& server() { return *server_; }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::unique_ptr<ChannelServer> server_;
  std::vector<std::thread> threads_;
};

// Records how a server session ended.
struct SessionLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> closed;
  std::vector<std::string> payloads;

  void OnClose(const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    closed.push_back(s);
    cv.notify_all();
  }
  // Waits for the first close and returns its status.
  Status WaitClosed() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return !closed.empty(); });
    return closed.empty() ? InternalError("no close") : closed.front();
  }
};

class ChannelTcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    server_keys_ = GenerateKeyPair(random_);
    device_keys_ = GenerateKeyPair(random_);
  }
  Result<std::unique_ptr<ClientChannel>> ConnectDevice(uint16_t port, const KeyPair& keys,
                                                       std::string payload = "",
                                                       ClientOptions o = {}) {
    return ClientChannel::Connect("127.0.0.1", port, keys.Clone(), server_keys_.public_key,
                                  std::move(payload), random_, o);
  }
  // A session handler that echoes every message and logs how sessions end.
  ChannelServer::SessionHandler Echo(SessionLog* log) {
    return [log](std::shared_ptr<ServerChannel> ch) {
      {
        std::lock_guard<std::mutex> lock(log->mu);
        log->payloads.push_back(ch->handshake_payload());
      }
      ServerChannel* raw = ch.get();
      ch->Start([raw](std::string m) { raw->Send(std::move(m)); },
                [log, ch](const Status& s) { log->OnClose(s); });
    };
  }

  SeededRandom random_{99};
  KeyPair server_keys_, device_keys_;
};

// Log-uniform sizes from 1 B to 4 MiB (both ends included).
size_t RandomSize(SeededRandom& r, int i) {
  constexpr size_t kMax = size_t{4} << 20;
  if (i == 0) return 1;
  if (i == 1) return kMax;
  double u = static_cast<double>(r.NextU64() >> 11) / 9007199254740992.0;
  return std::max<size_t>(1, std::min(kMax, static_cast<size_t>(std::exp(u * std::log(kMax)))));
}

void HashMessage(crypto_generichash_state* st, const std::string& m) {
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(m.size() >> (8 * i));
  crypto_generichash_update(st, len, sizeof len);
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(m.data()), m.size());
}

TEST_F(ChannelTcpTest, HundredMegabytesOfRandomSizedMessagesArriveIntact) {
  // Server: hashes every message; an empty message asks for the digest.
  auto on_session = [](std::shared_ptr<ServerChannel> ch) {
    auto st = std::make_shared<crypto_generichash_state>();
    auto total = std::make_shared<uint64_t>(0);
    crypto_generichash_init(st.get(), nullptr, 0, 32);
    ServerChannel* raw = ch.get();
    ch->Start(
        [raw, st, total](std::string m) {
          if (!m.empty()) {
            HashMessage(st.get(), m);
            *total += m.size();
            return;
          }
          unsigned char digest[32];
          crypto_generichash_final(st.get(), digest, sizeof digest);
          raw->Send(std::string(reinterpret_cast<char*>(digest), 32) + std::to_string(*total));
        },
        [ch](const Status&) {});
  };
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), on_session);
  auto client = ConnectDevice(server.port(), device_keys_);
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  uint64_t total = 0;
  int count = 0;
  std::string msg;
  const auto start = std::chrono::steady_clock::now();
  while (total < 100'000'000) {
    msg.resize(RandomSize(random_, count));
    random_.Fill(msg.data(), msg.size());
    HashMessage(&st, msg);
    ASSERT_TRUE((*client)->Send(msg).ok());
    total += msg.size();
    ++count;
  }
  ASSERT_TRUE((*client)->Send("").ok());
  Result<std::string> reply = (*client)->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  unsigned char digest[32];
  crypto_generichash_final(&st, digest, sizeof digest);
  EXPECT_EQ(reply->substr(0, 32), std::string(reinterpret_cast<char*>(digest), 32));
  EXPECT_EQ(reply->substr(32), std::to_string(total));
  RecordProperty("messages", count);
  std::printf("%d messages, %llu bytes in %.2f s\n", count,
              static_cast<unsigned long long>(total), secs);
}

TEST_F(ChannelTcpTest, EchoBothWaysAndPayloadReachesTheServer) {
  SessionLog log;
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), Echo(&log), {}, 2);
  auto client = ConnectDevice(server.port(), device_keys_, "enrol Worker 1");
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->handshake_hash().size(), 64u);
  for (size_t n : {0, 1, 65514, 65515, 300000}) {
    std::string m(n, static_cast<char>('a' + n % 26));
    ASSERT_TRUE((*client)->Send(m).ok());
    Result<std::string> back = (*client)->Receive();
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, m);
  }
  (*client)->Close();
  EXPECT_TRUE(log.WaitClosed().ok());
  std::lock_guard<std::mutex> lock(log.mu);
  ASSERT_EQ(log.payloads.size(), 1u);
  EXPECT_EQ(log.payloads[0], "enrol Worker 1");
}

TEST_F(ChannelTcpTest, UnknownDeviceIsRefusedWithTheHookReason) {
  SessionLog log;
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), Echo(&log));
  KeyPair stranger = GenerateKeyPair(random_);
  auto client = ConnectDevice(server.port(), stranger);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(client.status().message().find("unknown device"), std::string::npos);
}

TEST_F(ChannelTcpTest, RefusalSurfacesFromReceiveWithoutWaitingForTheVerdict) {
  SessionLog log;
  TestServer server(server_keys_.Clone(), AllowList({}), Echo(&log));
  ClientOptions o;
  o.wait_for_verdict = false;
  auto client = ConnectDevice(server.port(), device_keys_, "", o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Receive().status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ChannelTcpTest, WrongServerKeyIsRefusedByTheDevice) {
  SessionLog log;
  KeyPair impostor = GenerateKeyPair(random_);
  TestServer server(impostor.Clone(), AllowList({device_keys_.public_key}), Echo(&log));
  auto client = ConnectDevice(server.port(), device_keys_, "enrolment code");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(ChannelTcpTest, NothingListeningIsUnavailable) {
  uint16_t port;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto client = ConnectDevice(port, device_keys_);
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable);
}

TEST_F(ChannelTcpTest, ServerClosingEndsTheClientsReceiveWithAborted) {
  auto on_session = [](std::shared_ptr<ServerChannel> ch) {
    ServerChannel* raw = ch.get();
    ch->Start([raw](std::string) { raw->Close(); }, [ch](const Status&) {});
  };
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), on_session);
  auto client = ConnectDevice(server.port(), device_keys_);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Send("bye").ok());
  EXPECT_EQ((*client)->Receive().status().code(), StatusCode::kAborted);
  EXPECT_EQ((*client)->Send("more").code(), StatusCode::kAborted);
}

TEST_F(ChannelTcpTest, SilentConnectionHitsTheHandshakeTimeout) {
  SessionLog log;
  ServerOptions o;
  o.handshake_timeout_ms = 200;
  TestServer server(server_keys_.Clone(), AllowList({}), Echo(&log), o);
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  char c;
  asio::error_code ec;
  const auto start = std::chrono::steady_clock::now();
  s.read_some(asio::buffer(&c, 1), ec);  // blocks until the server gives up
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A device speaking through a raw socket, to inject faults after the handshake.
class RawDevice {
 public:
  RawDevice(uint16_t port, KeyPair keys, const std::string& server_key, Random& random)
      : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    auto ch = SecureChannel::Initiator(std::move(keys), server_key, "", random);
    EXPECT_TRUE(ch.ok());
    channel_.emplace(std::move(ch).value());
    char buf[4096];
    while (!channel_->is_open()) {
      if (channel_->HasOutput()) asio::write(socket_, asio::buffer(channel_->TakeOutput()));
      size_t n = socket_.read_some(asio::buffer(buf));
      EXPECT_TRUE(channel_->Feed(std::string_view(buf, n)).ok());
    }
  }
  std::string Frame(const std::string& msg) {
    EXPECT_TRUE(channel_->Send(msg).ok());
    return channel_->TakeOutput();
  }
  void Write(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void Shutdown() { socket_.shutdown(asio::ip::tcp::socket::shutdown_send); }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::optional<SecureChannel> channel_;
};

TEST_F(ChannelTcpTest, DuplicatedFrameEndsTheServerSessionWithDataLoss) {
  SessionLog log;
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), Echo(&log));
  RawDevice dev(server.port(), device_keys_.Clone(), server_keys_.public_key, random_);
  std::string frame = dev.Frame("push");
  dev.Write(frame + frame);
  EXPECT_EQ(log.WaitClosed().code(), StatusCode::kDataLoss);
}

TEST_F(ChannelTcpTest, CutInsideAMessageEndsTheServerSessionWithAborted) {
  SessionLog log;
  TestServer server(server_keys_.Clone(), AllowList({device_keys_.public_key}), Echo(&log));
  RawDevice dev(server.port(), device_keys_.Clone(), server_keys_.public_key, random_);
  std::string frames = dev.Frame(std::string(200000, 'z'));
  dev.Write(frames.substr(0, 100000));
  dev.Shutdown();
  EXPECT_EQ(log.WaitClosed().code(), StatusCode::kAborted);
}

TEST_F(ChannelTcpTest, StopClosesLiveSessions) {
  SessionLog log;
  auto server = std::make_unique<TestServer>(server_keys_.Clone(),
                                             AllowList({device_keys_.public_key}), Echo(&log));
  auto client = ConnectDevice(server->port(), device_keys_);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Send("x").ok());
  ASSERT_TRUE((*client)->Receive().ok());
  server->server().Stop();
  EXPECT_EQ(log.WaitClosed().code(), StatusCode::kAborted);
  EXPECT_FALSE((*client)->Receive().ok());
}

}  // namespace
}  // namespace doorstep::sync
