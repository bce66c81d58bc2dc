// FaultProxy: a loopback TCP proxy that injects network faults into sync
// sessions, for `doorstep sim` and the fault tests. It listens on 127.0.0.1
// (any free port) and forwards each accepted connection to 127.0.0.1:target.
//
// It understands the transport's framing (docs/transport.md: 2-byte
// big-endian length ‖ Noise message) and forwards whole frames, so a fault
// lands at a chosen frame in a chosen direction:
//   kDrop  — the connection is closed on both sides just before that frame;
//   kDup   — that frame is forwarded twice (the receiver must refuse it);
//   kCut   — only the first `cut_bytes` bytes of that frame are forwarded, then
//            the connection is closed (cut mid-message);
//   kDelay — that frame is held back `delay_ms` before it is forwarded;
//   kTrigger — `on_trigger` runs once that frame has been forwarded (the sim
//            kills a device process there), and forwarding goes on.
// A plan is armed for the next accepted connection only; later connections
// are clean until the next Arm().
//
// Ownership: owns its listening socket, its accept thread and one thread per
// connection; the destructor stops and joins them all. Thread safety: every
// public method may be called from any thread.
#ifndef DOORSTEP_CLI_FAULT_PROXY_H_
#define DOORSTEP_CLI_FAULT_PROXY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "doorstep/core/status.h"

namespace doorstep::cli {

enum class FaultKind { kNone, kDrop, kDup, kCut, kDelay, kTrigger };

const char* FaultKindName(FaultKind kind);

struct FaultPlan {
  FaultKind kind = FaultKind::kNone;
  bool to_server = true;     // direction of the frame the fault lands on
  uint64_t frame = 0;        // 0-based index of that frame in its direction
  uint32_t cut_bytes = 1;    // kCut: bytes of the frame still forwarded (clamped below its size)
  int delay_ms = 0;          // kDelay
  std::function<void()> on_trigger;  // kTrigger; runs on a proxy thread
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1:0. kUnavailable if no socket can be bound.
  static Result<std::unique_ptr<FaultProxy>> Start(uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }

  // Connections accepted from now on go to 127.0.0.1:`target_port` (the sim
  // routes each sync to one of several servers).
  void SetTarget(uint16_t target_port) { target_port_ = target_port; }

  // The next accepted connection follows `plan`.
  void Arm(FaultPlan plan);
  // Forgets an armed plan that no connection has taken yet.
  void Disarm();

  // Waits up to `timeout_ms` until every accepted connection has closed.
  // Returns false on timeout.
  bool WaitIdle(int timeout_ms);

  // Faults that actually happened (the frame existed), and connections seen.
  uint64_t injected() const { return injected_; }
  uint64_t connections() const { return connections_; }
  // Frames forwarded in each direction over all connections.
  uint64_t frames_to_server() const { return frames_[0]; }
  uint64_t frames_to_device() const { return frames_[1]; }

 private:
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  FaultProxy(int listen_fd, uint16_t port, uint16_t target_port);
  void AcceptLoop();
  void Pump(int device, int server, FaultPlan plan, Conn* self);
  // Joins finished connection threads (REQUIRES: mu_ held).
  void ReapLocked();

  int listen_fd_;
  uint16_t port_;
  std::atomic<uint16_t> target_port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> injected_{0}, connections_{0};
  std::atomic<uint64_t> frames_[2] = {{0}, {0}};
  std::mutex mu_;
  FaultPlan armed_;                         // guarded by mu_
  std::list<std::unique_ptr<Conn>> conns_;  // guarded by mu_
  std::thread accept_thread_;
};

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_FAULT_PROXY_H_
