// Helpers for the end-to-end tests: run the real `doorstep` binary
// (DOORSTEP_BIN) as a child process with a chosen environment and standard
// input, collect its output and exit code; make and remove temporary
// directories. Each child runs in its own session (setsid), so it has no
// controlling terminal and can never block on a passphrase prompt, and is
// killed if the test process dies first.
// Thread safety: call from the test's thread.
#ifndef DOORSTEP_TESTS_E2E_E2E_UTIL_H_
#define DOORSTEP_TESTS_E2E_E2E_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace doorstep::e2e {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or failed to start
  std::string out;
  std::string err;
};

// The doorstep binary under test.
inline std::string DoorstepBin() {
  const char* b = std::getenv("DOORSTEP_BIN");
  return b != nullptr ? b : "doorstep";
}

// Environment changes for a child: a value sets the variable, nullopt unsets it.
using EnvChanges = std::map<std::string, std::optional<std::string>>;

// Starts DOORSTEP_BIN with `args` and `env`; stdin/stdout/stderr are pipes
// returned through the pointers (-1 when not wanted). Returns the pid, or -1.
inline pid_t Spawn(const std::vector<std::string>& args, const EnvChanges& env, int* in_fd,
                   int* out_fd, int* err_fd) {
  int in[2], out[2], err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) return -1;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive an aborted test
    if (getppid() != parent) _exit(127);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    for (const auto& [k, v] : env) {
      if (v) {
        setenv(k.c_str(), v->c_str(), 1);
      } else {
        unsetenv(k.c_str());
      }
    }
    std::string bin = DoorstepBin();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (in_fd) *in_fd = in[1]; else close(in[1]);
  if (out_fd) *out_fd = out[0]; else close(out[0]);
  if (err_fd) *err_fd = err[0]; else close(err[0]);
  return pid;
}

// Runs DOORSTEP_BIN to completion, feeding `input` on stdin.
inline RunResult RunDoorstep(const std::vector<std::string>& args, const EnvChanges& env,
                     const std::string& input = "") {
  RunResult r;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  signal(SIGPIPE, SIG_IGN);
  pid_t pid = Spawn(args, env, &in_fd, &out_fd, &err_fd);
  if (pid < 0) return r;
  size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in_fd >= 0) { idx_in = n; fds[n++] = {in_fd, POLLOUT, 0}; }
    if (out_fd >= 0) { idx_out = n; fds[n++] = {out_fd, POLLIN, 0}; }
    if (err_fd >= 0) { idx_err = n; fds[n++] = {err_fd, POLLIN, 0}; }
    if (poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (idx_in >= 0 && fds[idx_in].revents != 0) {
      ssize_t w = write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    for (auto [idx, fd, sink] : {std::tuple<int, int*, std::string*>{idx_out, &out_fd, &r.out},
                                 std::tuple<int, int*, std::string*>{idx_err, &err_fd, &r.err}}) {
      if (idx < 0 || fds[idx].revents == 0) continue;
      char buf[4096];
      ssize_t got = read(*fd, buf, sizeof buf);
      if (got > 0) {
        sink->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(*fd);
        *fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "doorstep-e2e-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace doorstep::e2e

#endif  // DOORSTEP_TESTS_E2E_E2E_UTIL_H_
