// SecureChannel, the I/O-free transport state machine.
#include "doorstep/sync/secure_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "doorstep/core/secret.h"
#include "sync/channel_test_util.h"

// Records the largest single allocation while g_track is set, to show that a
// size announced by the peer is checked before anything is allocated for it.
// (Replaces the global operator new/delete of sync_test, every non-aligned
// form, with malloc/free.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_largest{0};
}  // namespace

void* operator new(size_t n) {
  if (g_track.load(std::memory_order_relaxed) && n > g_largest.load()) g_largest = n;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
// Every form a plain new's memory can come back through (a sanitizer
// replaces the forms a test leaves alone: mixing the two is a mismatch).
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace doorstep::sync {
namespace {

using testing::AllowList;
using testing::Pump;

class SecureChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    server_keys_ = GenerateKeyPair(random_);
    device_keys_ = GenerateKeyPair(random_);
  }

  SecureChannel MakeDevice(std::string payload = "enrol: code 1234", ChannelOptions o = {}) {
    auto c = SecureChannel::Initiator(device_keys_.Clone(), server_keys_.public_key,
                                      std::move(payload), random_, o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  SecureChannel MakeServer(ChannelOptions o = {}) {
    auto c = SecureChannel::Responder(server_keys_.Clone(), AllowList({device_keys_.public_key}),
                                      random_, o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  // A device and a server with the handshake done and the verdict read.
  std::pair<SecureChannel, SecureChannel> Connected(ChannelOptions dev = {},
                                                    ChannelOptions srv = {}) {
    SecureChannel d = MakeDevice("", dev), s = MakeServer(srv);
    EXPECT_TRUE(Pump(d, s).ok());
    EXPECT_TRUE(d.is_open() && s.is_open());
    return {std::move(d), std::move(s)};
  }

  SeededRandom random_{1234};
  KeyPair server_keys_, device_keys_;
};

TEST_F(SecureChannelTest, HandshakeAuthenticatesBothSidesAndCarriesThePayload) {
  SecureChannel d = MakeDevice(), s = MakeServer();
  EXPECT_EQ(d.state(), SecureChannel::State::kHandshake);
  ASSERT_TRUE(d.HasOutput());
  std::string m1 = d.TakeOutput();
  EXPECT_EQ(m1.size(), 2u + 32u);  // frame header + e, empty payload
  ASSERT_TRUE(s.Feed(m1).ok());
  ASSERT_TRUE(d.Feed(s.TakeOutput()).ok());
  EXPECT_EQ(d.state(), SecureChannel::State::kAwaitingVerdict);
  ASSERT_TRUE(s.Feed(d.TakeOutput()).ok());
  EXPECT_TRUE(s.is_open());
  EXPECT_EQ(s.handshake_payload(), "enrol: code 1234");
  EXPECT_EQ(s.remote_static_key(), device_keys_.public_key);
  ASSERT_TRUE(d.Feed(s.TakeOutput()).ok());
  EXPECT_TRUE(d.is_open());
  EXPECT_EQ(d.remote_static_key(), server_keys_.public_key);
  EXPECT_EQ(d.handshake_hash(), s.handshake_hash());
  EXPECT_EQ(d.handshake_hash().size(), 64u);
}

TEST_F(SecureChannelTest, MessagesOfEverySizeArriveWholeAndInOrder) {
  auto [d, s] = Connected();
  const size_t sizes[] = {0, 1, 65513, 65514, 65515, 65518, 65519, 131032, 1'000'003};
  for (size_t n : sizes) {
    std::string msg(n, '\0');
    random_.Fill(msg.data(), n);
    ASSERT_TRUE(d.Send(msg).ok());
    ASSERT_TRUE(s.Send(msg).ok());
    ASSERT_TRUE(Pump(d, s).ok());
    ASSERT_TRUE(s.HasMessage() && d.HasMessage()) << n;
    EXPECT_EQ(s.PopMessage(), msg) << n;
    EXPECT_EQ(d.PopMessage(), msg) << n;
  }
  EXPECT_FALSE(s.HasMessage());
}

TEST_F(SecureChannelTest, ByteAtATimeFeedingWorks) {
  SecureChannel d = MakeDevice(), s = MakeServer();
  for (int step = 0; step < 4; ++step) {
    SecureChannel& from = step % 2 == 0 ? d : s;
    SecureChannel& to = step % 2 == 0 ? s : d;
    std::string bytes = from.TakeOutput();
    for (char c : bytes) ASSERT_TRUE(to.Feed(std::string_view(&c, 1)).ok());
  }
  ASSERT_TRUE(d.is_open() && s.is_open());
  ASSERT_TRUE(d.Send("hello").ok());
  std::string bytes = d.TakeOutput();
  for (char c : bytes) ASSERT_TRUE(s.Feed(std::string_view(&c, 1)).ok());
  EXPECT_EQ(s.PopMessage(), "hello");
}

TEST_F(SecureChannelTest, TamperedTransportMessageIsDataLossAndTheSessionDies) {
  auto [d, s] = Connected();
  ASSERT_TRUE(d.Send("visit note").ok());
  std::string wire = d.TakeOutput();
  wire[5] ^= 0x01;
  EXPECT_EQ(s.Feed(wire).code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.state(), SecureChannel::State::kClosed);
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(s.HasMessage());
  // Dead: a genuine message and sending both fail now.
  ASSERT_TRUE(d.Send("another").ok());
  EXPECT_EQ(s.Feed(d.TakeOutput()).code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.Send("reply").code(), StatusCode::kDataLoss);
  EXPECT_FALSE(s.HasOutput());
}

TEST_F(SecureChannelTest, ReplayedMessageIsRefused) {
  auto [d, s] = Connected();
  ASSERT_TRUE(d.Send("push batch 1").ok());
  std::string wire = d.TakeOutput();
  ASSERT_TRUE(s.Feed(wire).ok());
  EXPECT_EQ(s.PopMessage(), "push batch 1");
  EXPECT_EQ(s.Feed(wire).code(), StatusCode::kDataLoss);
  EXPECT_FALSE(s.HasMessage());
  EXPECT_EQ(s.state(), SecureChannel::State::kClosed);
}

TEST_F(SecureChannelTest, ReorderedMessagesAreRefused) {
  auto [d, s] = Connected();
  ASSERT_TRUE(d.Send("first").ok());
  std::string one = d.TakeOutput();
  ASSERT_TRUE(d.Send("second").ok());
  std::string two = d.TakeOutput();
  EXPECT_EQ(s.Feed(two).code(), StatusCode::kDataLoss);
  EXPECT_FALSE(s.HasMessage());
}

TEST_F(SecureChannelTest, TruncatedFrameCannotPassAsAShorterMessage) {
  auto [d, s] = Connected();
  ASSERT_TRUE(d.Send("abcdef").ok());
  std::string wire = d.TakeOutput();
  wire[1] = static_cast<char>(wire[1] - 1);  // claim one byte less
  EXPECT_EQ(s.Feed(wire).code(), StatusCode::kDataLoss);
}

TEST_F(SecureChannelTest, OversizedLengthIsRefusedBeforeAllocation) {
  ChannelOptions small;
  small.max_message_bytes = 1 << 20;
  auto [d, s] = Connected({}, small);
  std::string big(8 << 20, 'x');
  ASSERT_TRUE(d.Send(big).ok());
  std::string wire = d.TakeOutput();
  // Only the first frame (which announces 8 MiB) reaches the server.
  std::string first = wire.substr(0, 2 + 65535);
  g_largest = 0;
  g_track = true;
  Status st = s.Feed(first);
  g_track = false;
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_LT(g_largest.load(), size_t{1} << 20);
  EXPECT_EQ(s.state(), SecureChannel::State::kClosed);
}

TEST_F(SecureChannelTest, SendingMoreThanTheLimitIsRefusedLocally) {
  ChannelOptions small;
  small.max_message_bytes = 1000;
  auto [d, s] = Connected(small, {});
  EXPECT_EQ(d.Send(std::string(1001, 'x')).code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(d.is_open());
  EXPECT_TRUE(d.Send(std::string(1000, 'x')).ok());
}

TEST_F(SecureChannelTest, WrongPinnedServerKeyRefusesTheHandshake) {
  KeyPair impostor = GenerateKeyPair(random_);
  auto s = SecureChannel::Responder(impostor.Clone(), AllowList({device_keys_.public_key}),
                                    random_);
  ASSERT_TRUE(s.ok());
  SecureChannel d = MakeDevice("secret enrolment code");
  ASSERT_TRUE(s->Feed(d.TakeOutput()).ok());
  Status st = d.Feed(s->TakeOutput());
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(d.state(), SecureChannel::State::kClosed);
  EXPECT_FALSE(d.HasOutput());  // the third message (and its payload) was never sent
  EXPECT_EQ(d.Send("x").code(), StatusCode::kUnauthenticated);
}

TEST_F(SecureChannelTest, UnknownDeviceKeyIsRefusedByTheServerHook) {
  KeyPair stranger = GenerateKeyPair(random_);
  auto d = SecureChannel::Initiator(stranger.Clone(), server_keys_.public_key, "", random_);
  ASSERT_TRUE(d.ok());
  SecureChannel s = MakeServer();
  ASSERT_TRUE(s.Feed(d->TakeOutput()).ok());
  ASSERT_TRUE(d->Feed(s.TakeOutput()).ok());
  Status server_side = s.Feed(d->TakeOutput());
  EXPECT_EQ(server_side.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.state(), SecureChannel::State::kClosed);
  EXPECT_EQ(s.remote_static_key(), stranger.public_key);
  ASSERT_TRUE(s.HasOutput());  // the refusal
  Status device_side = d->Feed(s.TakeOutput());
  EXPECT_EQ(device_side.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(device_side.message().find("unknown device"), std::string::npos);
  EXPECT_EQ(d->state(), SecureChannel::State::kClosed);
}

TEST_F(SecureChannelTest, FirstMessageMustHaveAnEmptyPayload) {
  SecureChannel s = MakeServer();
  std::string m1;
  m1.push_back(0);
  m1.push_back(33);
  m1 += std::string(32, '\x09') + "x";
  EXPECT_EQ(s.Feed(m1).code(), StatusCode::kDataLoss);
}

TEST_F(SecureChannelTest, SendBeforeTheHandshakeIsAPreconditionError) {
  SecureChannel d = MakeDevice(), s = MakeServer();
  EXPECT_EQ(d.Send("x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Send("x").code(), StatusCode::kFailedPrecondition);
}

TEST_F(SecureChannelTest, FinishInputTellsACleanEndFromACut) {
  {
    auto [d, s] = Connected();
    EXPECT_TRUE(s.FinishInput().ok());
    EXPECT_EQ(s.state(), SecureChannel::State::kClosed);
    EXPECT_EQ(s.Send("x").code(), StatusCode::kFailedPrecondition);
  }
  {
    auto [d, s] = Connected();
    ASSERT_TRUE(d.Send(std::string(100000, 'y')).ok());
    std::string wire = d.TakeOutput();
    ASSERT_TRUE(s.Feed(wire.substr(0, 70000)).ok());
    EXPECT_TRUE(s.mid_message());
    EXPECT_EQ(s.FinishInput().code(), StatusCode::kAborted);
  }
  {
    SecureChannel d = MakeDevice();
    EXPECT_EQ(d.FinishInput().code(), StatusCode::kUnavailable);
  }
}

TEST_F(SecureChannelTest, CreationChecksItsArguments) {
  EXPECT_EQ(SecureChannel::Initiator(device_keys_.Clone(), "short", "", random_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SecureChannel::Initiator(device_keys_.Clone(), server_keys_.public_key,
                                     std::string(kMaxHandshakePayloadBytes + 1, 'p'), random_)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(SecureChannel::Initiator(device_keys_.Clone(), server_keys_.public_key,
                                       std::string(kMaxHandshakePayloadBytes, 'p'), random_)
                  .ok());
  EXPECT_EQ(SecureChannel::Responder(server_keys_.Clone(), nullptr, random_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SecureChannel::Responder(KeyPair{}, AllowList({}), random_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SecureChannelTest, LargestHandshakePayloadIsCarried) {
  std::string payload(kMaxHandshakePayloadBytes, 'p');
  SecureChannel d = MakeDevice(payload), s = MakeServer();
  ASSERT_TRUE(Pump(d, s).ok());
  EXPECT_TRUE(d.is_open());
  EXPECT_EQ(s.handshake_payload(), payload);
}

}  // namespace
}  // namespace doorstep::sync
