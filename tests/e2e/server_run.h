// `doorstep server run` as a child process of an end-to-end test, its output
// (stdout and stderr) in a file. The child is killed (SIGKILL) if the test
// process dies first, so a test that aborts never leaves a server running
// that holds ctest's output pipe open. Thread safety: use from the test's
// thread (the one that started it).
#ifndef DOORSTEP_TESTS_E2E_SERVER_RUN_H_
#define DOORSTEP_TESTS_E2E_SERVER_RUN_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "e2e/e2e_util.h"

namespace doorstep::e2e {

class ServerRun {
 public:
  ServerRun() = default;
  ServerRun(const ServerRun&) = delete;
  ServerRun& operator=(const ServerRun&) = delete;
  ~ServerRun() { Stop(); }

  // Starts `doorstep server run --dir DIR --listen LISTEN` with its output in
  // `out_path` (truncated). False if it could not be started.
  bool Start(const std::string& dir, const std::string& out_path, const std::string& listen = "127.0.0.1:0") {
    Stop();
    out_path_ = out_path;
    const std::string bin = DoorstepBin();
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // the test died before prctl
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int null = open("/dev/null", O_RDONLY);
      if (out < 0 || null < 0) _exit(127);
      dup2(null, 0);
      dup2(out, 1);
      dup2(out, 2);
      execl(bin.c_str(), "doorstep", "server", "run", "--dir", dir.c_str(), "--listen", listen.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    return true;
  }

  // The port from its "listening on 127.0.0.1:PORT" line, waiting up to
  // 10 s; 0 if it did not start listening (or has exited).
  uint16_t Port() {
    const std::string prefix = "listening on 127.0.0.1:";
    for (int i = 0; i < 1000 && pid_ > 0; ++i) {
      std::string text = ReadFile(out_path_);
      size_t at = text.find(prefix);
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        return static_cast<uint16_t>(std::strtoul(text.c_str() + at + prefix.size(), nullptr, 10));
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }

  // SIGTERM, then waits: its exit code, or -1 (not running, or killed by a signal).
  int Stop() { return Signal(SIGTERM); }
  // SIGKILL, then waits (a crash, as far as its files are concerned).
  void Kill() { (void)Signal(SIGKILL); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Everything it has printed so far.
  std::string Output() const { return ReadFile(out_path_); }

 private:
  int Signal(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

  std::string out_path_;
  pid_t pid_ = -1;
};

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_SERVER_RUN_H_
