#include "doorstep/core/env.h"

#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace doorstep {
namespace {

class SystemClock : public Clock {
 public:
  int64_t NowMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class SodiumRandom : public Random {
 public:
  void Fill(void* buf, size_t n) override { randombytes_buf(buf, n); }
};

class StderrLogger : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    if (level < LogLevel::kWarn) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::fprintf(stderr, "doorstep: %s: %.*s\n",
                 level == LogLevel::kWarn ? "warning" : "error",
                 static_cast<int>(message.size()), message.data());
  }

 private:
  std::mutex mu_;
};

}  // namespace

Env RealEnv() {
  static SystemClock clock;
  static SodiumRandom random;
  static StderrLogger logger;
  return Env{&clock, &random, &logger};
}

void SeededRandom::Fill(void* buf, size_t n) {
  auto* out = static_cast<unsigned char*>(buf);
  while (n > 0) {
    // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    size_t k = n < 8 ? n : 8;
    std::memcpy(out, &z, k);
    out += k;
    n -= k;
  }
}

}  // namespace doorstep
