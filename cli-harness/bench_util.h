// Pieces every `doorstep bench …` command shares: percentiles, the ~1 KB
// sample records, a temporary directory removed on scope exit, and a
// `doorstep server run` child process on 127.0.0.1 whose memory and CPU can be
// read from /proc. Not thread-safe; each object belongs to one bench run.
#ifndef DOORSTEP_CLI_HARNESS_BENCH_UTIL_H_
#define DOORSTEP_CLI_HARNESS_BENCH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "doorstep/core/status.h"

namespace doorstep::cli {

using BenchClock = std::chrono::steady_clock;

// Milliseconds from `t0` to now.
double MsSince(BenchClock::time_point t0);

// The p-quantile (0 ≤ p ≤ 1) of `v` by nearest rank; 0 for an empty vector.
double Percentile(std::vector<double> v, double p);
double Median(std::vector<double> v);

// ~1 KB visit notes: the sample record's narrative fields shortened to about
// 1,000 bytes of JSON, each made distinct by a numbered marker line.
class BenchSamples {
 public:
  explicit BenchSamples(int64_t now_ms);
  // The i-th record's fields (valid until the next call).
  const nlohmann::json& Fields(int64_t i);
  // A one-field edit of record i in the given round.
  nlohmann::json Edit(int64_t i, int round) const;

 private:
  nlohmann::json base_;
  std::string observations_;
};

// A fresh directory `<parent>/<prefix>XXXXXX` (parent: the system's temporary
// directory when empty), removed with everything in it on destruction.
class BenchTempDir {
 public:
  BenchTempDir() = default;
  BenchTempDir(const BenchTempDir&) = delete;
  BenchTempDir& operator=(const BenchTempDir&) = delete;
  ~BenchTempDir();
  // Fails with kInvalidArgument naming `parent` if it cannot be created there.
  Status Create(const std::string& parent, const std::string& prefix);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `doorstep server run --dir DIR --listen 127.0.0.1:0` as a child process of
// this program (/proc/self/exe), stopped with SIGTERM on Stop or destruction.
class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  // Starts it and waits (up to 20 s) for its "listening on HOST:PORT" line;
  // kUnavailable with what it printed if that line does not come.
  Status Start(const std::string& dir);
  void Stop();

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // A "VmRSS"/"VmHWM" figure of the process, in MB (0 if unreadable).
  double MemoryMb(const std::string& field) const;
  // User + system CPU seconds the process has used so far (0 if unreadable).
  double CpuSeconds() const;
  // Milliseconds its live threads have run on a CPU so far, at nanosecond
  // resolution (/proc/PID/task/*/schedstat; 0 if unreadable): for phases
  // far shorter than CpuSeconds' 10 ms ticks.
  double OnCpuMs() const;
  // A /proc/PID/io counter (e.g. "wchar": bytes written through write
  // calls), in MB (0 if unreadable).
  double IoMb(const std::string& field) const;

 private:
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

// User + system CPU seconds this process has used so far.
double OwnCpuSeconds();

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_HARNESS_BENCH_UTIL_H_
