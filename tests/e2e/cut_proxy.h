// CutProxy: a loopback TCP proxy for fault tests. It listens on 127.0.0.1
// (any free port) and forwards each accepted connection to 127.0.0.1:target.
// When a cut is armed, every connection accepted afterwards is closed on both
// sides once exactly `after_bytes` bytes have been forwarded in the chosen
// direction (device→server or server→device); bytes beyond the budget are
// dropped, never forwarded.
//
// Ownership: owns its listening socket, its accept thread and one thread per
// connection; the destructor stops and joins them all. Thread safety: Arm,
// Disarm and the byte counters may be used from any thread.
#ifndef DOORSTEP_TESTS_E2E_CUT_PROXY_H_
#define DOORSTEP_TESTS_E2E_CUT_PROXY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace doorstep::e2e {

enum class CutDirection { kNone, kToServer, kToDevice };

class CutProxy {
 public:
  explicit CutProxy(uint16_t target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~CutProxy() {
    stop_ = true;
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  uint16_t port() const { return port_; }

  // Connections accepted from now on are cut after `after_bytes` bytes in `dir`.
  void Arm(CutDirection dir, uint64_t after_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    dir_ = dir;
    budget_ = after_bytes;
  }
  void Disarm() { Arm(CutDirection::kNone, 0); }

  // Bytes forwarded since the last ResetCounters(), per direction.
  uint64_t to_server() const { return to_server_; }
  uint64_t to_device() const { return to_device_; }
  int cuts() const { return cuts_; }
  void ResetCounters() {
    to_server_ = 0;
    to_device_ = 0;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int device = ::accept(listen_fd_, nullptr, nullptr);
      if (device < 0) continue;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(server);
        ::close(device);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      CutDirection dir = dir_;
      uint64_t budget = budget_;
      threads_.emplace_back([this, device, server, dir, budget] { Pump(device, server, dir, budget); });
    }
  }

  // Forwards both ways until either side closes, the proxy stops, or the cut.
  void Pump(int device, int server, CutDirection dir, uint64_t budget) {
    uint64_t sent[2] = {0, 0};  // [0] device→server, [1] server→device
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      pollfd p[2] = {{device, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          open = false;
          break;
        }
        size_t to_send = static_cast<size_t>(n);
        bool cut_here = (i == 0 && dir == CutDirection::kToServer) || (i == 1 && dir == CutDirection::kToDevice);
        bool cut_now = false;
        if (cut_here && sent[i] + to_send >= budget) {
          to_send = static_cast<size_t>(budget - sent[i]);
          cut_now = true;
        }
        int out = i == 0 ? server : device;
        size_t off = 0;
        while (off < to_send) {
          ssize_t w = ::write(out, buf + off, to_send - off);
          if (w <= 0) {
            open = false;
            break;
          }
          off += static_cast<size_t>(w);
        }
        sent[i] += off;
        (i == 0 ? to_server_ : to_device_) += off;
        if (cut_now) {
          ++cuts_;
          open = false;
        }
      }
    }
    ::shutdown(device, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
    ::close(device);
    ::close(server);
  }

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> to_server_{0}, to_device_{0};
  std::atomic<int> cuts_{0};
  std::mutex mu_;
  CutDirection dir_ = CutDirection::kNone;  // guarded by mu_
  uint64_t budget_ = 0;                     // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_
  std::thread accept_thread_;
};

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_CUT_PROXY_H_
