// SharedClock: a wall clock kept in a small file that one process (the
// `doorstep sim`) sets and others (its `sim-server-child` server processes)
// read, so separate processes share the sim's simulated time. The file holds
// one native-endian int64, milliseconds since the Unix epoch, mapped with
// mmap(MAP_SHARED) and written and read atomically.
//
// MonotonicMicros() is the real monotonic clock (the servers' timeouts run
// in real time). Ownership: owns its mapping. Thread safety: every method
// may be called from any thread.
#ifndef DOORSTEP_CLI_SHARED_CLOCK_H_
#define DOORSTEP_CLI_SHARED_CLOCK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"

namespace doorstep::cli {

class SharedClock : public Clock {
 public:
  // Creates (or truncates) `path` (mode 0600) holding `now_ms`, writable.
  // kUnavailable on I/O errors.
  static Result<std::unique_ptr<SharedClock>> Create(const std::string& path, int64_t now_ms);
  // Maps an existing clock file read-only. kNotFound if it is missing,
  // kCorruption if it is not 8 bytes, kUnavailable on other I/O errors.
  static Result<std::unique_ptr<SharedClock>> Open(const std::string& path);
  ~SharedClock() override;
  SharedClock(const SharedClock&) = delete;
  SharedClock& operator=(const SharedClock&) = delete;

  int64_t NowMillis() override;
  int64_t MonotonicMicros() override;
  // Sets the time every reader sees. No effect on a clock opened read-only.
  void Set(int64_t now_ms);

 private:
  SharedClock(int64_t* cell, bool writable) : cell_(cell), writable_(writable) {}
  int64_t* cell_;  // in the shared mapping
  bool writable_;
};

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_SHARED_CLOCK_H_
