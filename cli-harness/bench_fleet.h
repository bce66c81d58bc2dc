// DeviceFleet: the simulated devices of `doorstep bench server`, one thread
// each, made once and reused by every phase.
//
// Why not a thread per session: the devices of a real fleet are separate
// machines. Threads started and joined per phase put their kernel work on
// the server's machine inside the timed window — each exiting thread's
// stack madvise, and the munmap of stacks at join, whose TLB shootdowns hit
// every core running one of this process's threads (~400 munmaps a run).
// A phase still times exactly the same thing: from releasing all devices
// at once to the end of the last session.
//
// Ownership: owns its threads (joined on destruction). Thread safety: one
// caller runs one phase at a time; sessions run concurrently and must only
// share thread-safe state.
#ifndef DOORSTEP_CLI_HARNESS_BENCH_FLEET_H_
#define DOORSTEP_CLI_HARNESS_BENCH_FLEET_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "doorstep/core/status.h"

namespace doorstep::cli {

class DeviceFleet {
 public:
  // Starts n device threads, idle until AllAtOnce.
  explicit DeviceFleet(size_t n);
  ~DeviceFleet();
  DeviceFleet(const DeviceFleet&) = delete;
  DeviceFleet& operator=(const DeviceFleet&) = delete;

  // Runs session(i) on device thread i for every i, all released together;
  // returns the per-session latencies (ms) and sets *wall_s (release to the
  // end of the last session). The first failing session's status if any
  // fails (every session still runs to its end).
  Result<std::vector<double>> AllAtOnce(const std::function<Status(size_t)>& session,
                                        double* wall_s);

 private:
  void Loop(size_t i);

  std::mutex mu_;
  std::condition_variable go_cv_;
  std::condition_variable done_cv_;
  uint64_t round_ = 0;  // incremented to release the devices
  size_t done_ = 0;     // sessions of this round that have ended
  bool stop_ = false;
  const std::function<Status(size_t)>* session_ = nullptr;
  std::vector<double> lat_;
  std::vector<Status> st_;
  std::vector<std::thread> threads_;
};

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_HARNESS_BENCH_FLEET_H_
