// `doorstep bench transport [--json]`: Noise handshake time and transport
// throughput on loopback TCP, with a plain-TCP baseline from the same run.
#include "doorstep/sync/asio.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "cli.h"
#include "commands.h"
#include "doorstep/core/env.h"
#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/channel_server.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/secure_channel.h"

namespace doorstep::cli {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

struct BenchOptions {
  bool json = false;
  int handshakes = 200;
  size_t bytes = size_t{128} << 20;
  size_t message_bytes = size_t{1} << 20;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// An io_context running on one background thread for the bench's server side.
class IoThread {
 public:
  IoThread()
      : thread_([this] {
          io_.run();
          ran_out_ = true;
        }) {}
  // Lets the work still queued (the server's stop, the connections' aborts
  // and their close handlers, which release the channels) run out first:
  // stopping the context at once dropped those handlers, and a channel whose
  // close handler holds it was then never freed (LeakSanitizer saw it now
  // and then). Stops it after 5 s if work remains.
  ~IoThread() {
    work_.reset();
    for (int i = 0; i < 500 && !ran_out_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io_.stop();
    thread_.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::atomic<bool> ran_out_{false};
  std::thread thread_;
};

// Plain TCP: one connection, `bytes` written in `chunk`-sized writes, the
// receiver acknowledges the last byte. Returns MB/s.
Result<double> PlainTcpThroughput(size_t bytes, size_t chunk) {
  asio::io_context io;
  asio::error_code ec;
  tcp::acceptor acceptor(io);
  acceptor.open(tcp::v4(), ec);
  if (!ec) acceptor.bind({asio::ip::make_address("127.0.0.1"), 0}, ec);
  if (!ec) acceptor.listen(1, ec);
  if (ec) return UnavailableError("plain TCP baseline: " + ec.message());
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread receiver([&acceptor, bytes] {
    asio::error_code e;
    tcp::socket s = acceptor.accept(e);
    if (e) return;
    std::vector<char> buf(64 * 1024);
    size_t got = 0;
    while (got < bytes) {
      size_t n = s.read_some(asio::buffer(buf), e);
      if (e) return;
      got += n;
    }
    char ack = 1;
    asio::write(s, asio::buffer(&ack, 1), e);
  });
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  std::string data(chunk, 'x');
  const Clock::time_point start = Clock::now();
  for (size_t sent = 0; !ec && sent < bytes; sent += chunk) {
    asio::write(s, asio::buffer(data.data(), std::min(chunk, bytes - sent)), ec);
  }
  char ack = 0;
  if (!ec) asio::read(s, asio::buffer(&ack, 1), ec);
  const double secs = Seconds(Clock::now() - start);
  receiver.join();
  if (ec) return UnavailableError("plain TCP baseline: " + ec.message());
  return static_cast<double>(bytes) / secs / 1e6;
}

int RunBenchTransport(const BenchOptions& o) {
  if (o.handshakes < 1 || o.bytes == 0 || o.message_bytes == 0 ||
      o.message_bytes > sync::kDefaultMaxAppMessageBytes) {
    return Fail(kExitUsage, "--handshakes, --bytes and --message-size must be positive "
                            "(message size ≤ 16 MiB)");
  }
  Env env = RealEnv();
  sync::KeyPair server_keys = sync::GenerateKeyPair(*env.random);
  sync::KeyPair device_keys = sync::GenerateKeyPair(*env.random);

  IoThread io;
  // Server: counts bytes; an empty message asks for an acknowledgement.
  auto on_session = [](std::shared_ptr<sync::ServerChannel> ch) {
    sync::ServerChannel* raw = ch.get();
    ch->Start(
        [raw](std::string m) {
          if (m.empty()) raw->Send("ack");
        },
        [ch](const Status&) {});
  };
  auto accept_all = [](const std::string&, const std::string&) { return Status::Ok(); };
  Env server_env{env.clock, env.random, nullptr};
  auto server = sync::ChannelServer::Start(io.io(), "127.0.0.1", 0, server_keys.Clone(),
                                           accept_all, on_session, server_env);
  if (!server.ok()) return Fail(server.status());
  const uint16_t port = (*server)->port();

  // Handshakes: each a fresh TCP connection, timed through the verdict.
  std::vector<double> handshake_us;
  for (int i = 0; i < o.handshakes; ++i) {
    const Clock::time_point start = Clock::now();
    auto client = sync::ClientChannel::Connect("127.0.0.1", port, device_keys.Clone(),
                                               server_keys.public_key, "", *env.random);
    handshake_us.push_back(Micros(Clock::now() - start));
    if (!client.ok()) return Fail(client.status());
  }

  // Throughput: one connection, `bytes` in `message_bytes` messages.
  auto client = sync::ClientChannel::Connect("127.0.0.1", port, device_keys.Clone(),
                                             server_keys.public_key, "", *env.random);
  if (!client.ok()) return Fail(client.status());
  std::string msg(o.message_bytes, 'x');
  const Clock::time_point start = Clock::now();
  for (size_t sent = 0; sent < o.bytes; sent += o.message_bytes) {
    std::string_view part(msg.data(), std::min(o.message_bytes, o.bytes - sent));
    if (Status s = (*client)->Send(part); !s.ok()) return Fail(s);
  }
  if (Status s = (*client)->Send(""); !s.ok()) return Fail(s);
  if (auto ack = (*client)->Receive(); !ack.ok()) return Fail(ack.status());
  const double noise_mb_s = static_cast<double>(o.bytes) / Seconds(Clock::now() - start) / 1e6;
  (*client)->Close();
  (*server)->Stop();

  Result<double> plain = PlainTcpThroughput(o.bytes, o.message_bytes);
  if (!plain.ok()) return Fail(plain.status());
  const double median = Percentile(handshake_us, 0.5);
  const double p90 = Percentile(handshake_us, 0.9);
  const double ratio = noise_mb_s / *plain;

  if (o.json) {
    nlohmann::json j = {{"protocol", "Noise_XX_25519_ChaChaPoly_BLAKE2b"},
                        {"handshakes", o.handshakes},
                        {"handshake_us", median},
                        {"handshake_p90_us", p90},
                        {"bytes", o.bytes},
                        {"message_bytes", o.message_bytes},
                        {"throughput_mb_s", noise_mb_s},
                        {"plain_tcp_mb_s", *plain},
                        {"ratio", ratio}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("transport: Noise_XX_25519_ChaChaPoly_BLAKE2b over loopback TCP\n");
    std::printf("  handshake (TCP connect + XX + verdict): median %.0f us, p90 %.0f us over %d\n",
                median, p90, o.handshakes);
    std::printf("  throughput: %.1f MB/s (%zu bytes in %zu-byte messages)\n", noise_mb_s, o.bytes,
                o.message_bytes);
    std::printf("  plain TCP baseline: %.1f MB/s; encrypted/plain = %.2f\n", *plain, ratio);
  }
  return kExitOk;
}

}  // namespace

void RegisterBenchTransport(CLI::App& bench, int* exit_code) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = bench.add_subcommand(
      "transport", "Noise handshake time and encrypted throughput on loopback, vs plain TCP");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--handshakes", o->handshakes, "Handshakes to time (default 200)");
  cmd->add_option("--bytes", o->bytes, "Bytes to send for throughput (default 128 MiB)");
  cmd->add_option("--message-size", o->message_bytes,
                  "Application message size (default 1 MiB)");
  cmd->callback([o, exit_code] { *exit_code = RunBenchTransport(*o); });
}

}  // namespace doorstep::cli
