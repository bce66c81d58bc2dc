// FaultProxy: see fault_proxy.h.
#include "fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

namespace doorstep::cli {
namespace {

bool WriteAll(int fd, const char* data, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::send(fd, data + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

}  // namespace

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone: return "none";
    case FaultKind::kDrop: return "drop";
    case FaultKind::kDup: return "dup";
    case FaultKind::kCut: return "cut";
    case FaultKind::kDelay: return "delay";
    case FaultKind::kTrigger: return "trigger";
  }
  return "none";
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(uint16_t target_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError("fault proxy: cannot create a socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Loopback(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return UnavailableError("fault proxy: cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<FaultProxy>(new FaultProxy(fd, ntohs(addr.sin_port), target_port));
}

FaultProxy::FaultProxy(int listen_fd, uint16_t port, uint16_t target_port)
    : listen_fd_(listen_fd), port_(port), target_port_(target_port) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Conn>> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) c->thread.join();
  ::close(listen_fd_);
}

void FaultProxy::Arm(FaultPlan plan) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = std::move(plan);
}

void FaultProxy::Disarm() { Arm(FaultPlan{}); }

bool FaultProxy::WaitIdle(int timeout_ms) {
  for (int waited = 0;; ++waited) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ReapLocked();
      if (conns_.empty()) return true;
    }
    if (waited >= timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void FaultProxy::ReapLocked() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int device = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (device < 0) continue;
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (server >= 0) ::close(server);
      ::close(device);
      continue;
    }
    ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    ReapLocked();
    FaultPlan plan = std::move(armed_);
    armed_ = FaultPlan{};
    auto conn = std::make_unique<Conn>();
    Conn* raw = conn.get();
    conns_.push_back(std::move(conn));
    raw->thread = std::thread([this, device, server, plan = std::move(plan), raw]() mutable {
      Pump(device, server, std::move(plan), raw);
    });
  }
}

// Forwards whole frames both ways until either side closes, the proxy stops,
// or the plan closes the connection.
void FaultProxy::Pump(int device, int server, FaultPlan plan, Conn* self) {
  std::string buf[2];              // [0] device→server, [1] server→device
  uint64_t frames[2] = {0, 0};
  const int in_fd[2] = {device, server};
  const int out_fd[2] = {server, device};
  const int fault_dir = plan.to_server ? 0 : 1;
  bool fault_done = plan.kind == FaultKind::kNone;
  bool open = true;
  char chunk[16384];
  while (open && !stop_) {
    pollfd p[2] = {{device, POLLIN, 0}, {server, POLLIN, 0}};
    int ready = ::poll(p, 2, 50);
    if (ready <= 0) continue;
    for (int i = 0; i < 2 && open; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(in_fd[i], chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!buf[i].empty()) WriteAll(out_fd[i], buf[i].data(), buf[i].size());
        open = false;
        break;
      }
      buf[i].append(chunk, static_cast<size_t>(n));
      while (open && buf[i].size() >= 2) {
        size_t len = (static_cast<unsigned char>(buf[i][0]) << 8) | static_cast<unsigned char>(buf[i][1]);
        size_t size = 2 + len;
        if (buf[i].size() < size) break;
        bool here = !fault_done && i == fault_dir && frames[i] == plan.frame;
        if (here) {
          fault_done = true;
          ++injected_;
        }
        FaultKind kind = here ? plan.kind : FaultKind::kNone;
        if (kind == FaultKind::kDrop) {
          open = false;
          break;
        }
        if (kind == FaultKind::kCut) {
          size_t keep = plan.cut_bytes % size;
          if (keep == 0) keep = 1;
          WriteAll(out_fd[i], buf[i].data(), keep);
          open = false;
          break;
        }
        if (kind == FaultKind::kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(plan.delay_ms));
        bool ok = WriteAll(out_fd[i], buf[i].data(), size);
        if (ok && kind == FaultKind::kDup) ok = WriteAll(out_fd[i], buf[i].data(), size);
        if (kind == FaultKind::kTrigger && plan.on_trigger) plan.on_trigger();
        buf[i].erase(0, size);
        ++frames[i];
        ++frames_[i];
        if (!ok) open = false;
      }
    }
  }
  ::shutdown(device, SHUT_RDWR);
  ::shutdown(server, SHUT_RDWR);
  ::close(device);
  ::close(server);
  self->done = true;
}

}  // namespace doorstep::cli
