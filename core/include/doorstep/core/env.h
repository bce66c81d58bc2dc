// Env: every effect core/ and sync/ need from the outside world — the clock,
// the random source and the logger — passed in at construction (as LevelDB
// passes its Env). Only the CLI, the shells and the server's main wire in the
// real ones (RealEnv()); tests use FakeClock and a seeded random source.
// Thread safety: implementations must be safe to call from any thread.
#ifndef DOORSTEP_CORE_ENV_H_
#define DOORSTEP_CORE_ENV_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace doorstep {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (may jump backwards).
  virtual int64_t NowMillis() = 0;
  // A monotonic clock in microseconds, for timeouts and measurements.
  virtual int64_t MonotonicMicros() = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  // Fills buf[0..n) with random bytes. The real one is libsodium's
  // randombytes_buf (cryptographically secure).
  virtual void Fill(void* buf, size_t n) = 0;
  uint64_t NextU64() {
    uint64_t v = 0;
    Fill(&v, sizeof v);
    return v;
  }
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  // Never pass decrypted case content to a logger: ids, counts and codes only.
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

struct Env {
  Clock* clock = nullptr;
  Random* random = nullptr;
  Logger* logger = nullptr;
};

// The process-wide real Env: system clock, libsodium randomness, a logger that
// writes warnings and errors to stderr. REQUIRES: doorstep::Initialize() ok.
Env RealEnv();

// A clock tests advance by hand. Starts at `start_ms`.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'760'000'000'000) : now_ms_(start_ms) {}
  int64_t NowMillis() override { return now_ms_.load(); }
  int64_t MonotonicMicros() override { return mono_us_.load(); }
  void AdvanceMillis(int64_t ms) {
    now_ms_ += ms;
    if (ms > 0) mono_us_ += ms * 1000;
  }
  void SetMillis(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> mono_us_{0};
};

// A deterministic (NOT secure) random source for tests and simulations.
class SeededRandom : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ULL) {}
  void Fill(void* buf, size_t n) override;

 private:
  uint64_t state_;
};

// A logger that drops everything (tests).
class NullLogger : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
};

}  // namespace doorstep

#endif  // DOORSTEP_CORE_ENV_H_
