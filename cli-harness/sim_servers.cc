// `doorstep sim --postgres`: the sync servers as separate processes
// (`doorstep sim-server-child`), each opening the server directory the sim
// initialised, as `doorstep server run` does, with the sim's time read from
// a SharedClock file. The sim routes each sync to one of them through its
// FaultProxy. Each child's standard input is a pipe from the sim: when the
// sim ends (or dies) the pipe closes and the child stops, so no server
// outlives its sim. See sim.h.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "cli.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_dir.h"
#include "doorstep/sync/sync_server.h"
#include "shared_clock.h"
#include "sim.h"

extern char** environ;

namespace doorstep::cli {
namespace {

// The last line of a child's standard error, for error messages.
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!all.empty() && all.back() == '\n') all.pop_back();
  size_t nl = all.rfind('\n');
  return nl == std::string::npos ? all : all.substr(nl + 1);
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
  return "stopped";
}

// Reads one line from `fd` within `timeout_ms`; empty on timeout or EOF.
std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    char buf[64];
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return "";
    line.append(buf, static_cast<size_t>(got));
  }
  return line.substr(0, line.find('\n'));
}

}  // namespace

Status Sim::StartServerProcess(int index, const std::string& server_dir, Server* s) {
  const std::string name = "server process " + std::to_string(index);
  s->err_path = dir_ + "/server-" + std::to_string(index) + ".err";
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return UnavailableError("pipe: " + std::string(std::strerror(errno)));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return UnavailableError("pipe: " + std::string(std::strerror(errno)));
  }
  std::vector<std::string> args = {o_.self_exe, "sim-server-child", "--dir", server_dir,
                                   "--clock-file", dir_ + "/clock"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, s->err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t child = 0;
  int rc = posix_spawn(&child, o_.self_exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    return UnavailableError("cannot start " + name + " (" + o_.self_exe + "): " + std::strerror(rc));
  }
  s->pid = child;
  server_pids_.push_back(child);
  s->stdin_fd = in[1];
  std::string line = ReadLine(out[0], 30000);
  ::close(out[0]);
  char* end = nullptr;
  unsigned long port = line.empty() ? 0 : std::strtoul(line.c_str(), &end, 10);
  if (port == 0 || port > 65535 || end == nullptr || *end != '\0') {
    DS_RETURN_IF_ERROR(CheckServerProcesses());
    return UnavailableError(name + " (pid " + std::to_string(child) + ") reported no port: " +
                            LastLine(s->err_path));
  }
  s->port = static_cast<uint16_t>(port);
  return Status::Ok();
}

Status Sim::CheckServerProcesses() {
  for (size_t i = 0; i < servers_.size(); ++i) {
    Server& s = servers_[i];
    if (s.pid <= 0) continue;
    int status = 0;
    pid_t r = ::waitpid(s.pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) continue;
    const pid_t pid = s.pid;
    s.pid = -1;
    return UnavailableError("server process " + std::to_string(i) + " (pid " + std::to_string(pid) + ") " +
                            (r < 0 ? std::string("is gone") : Describe(status)) + ": " + LastLine(s.err_path));
  }
  return Status::Ok();
}

void Sim::StopServerProcesses() {
  for (Server& s : servers_) {
    if (s.stdin_fd >= 0) ::close(s.stdin_fd);
    s.stdin_fd = -1;
    if (s.pid > 0) ::kill(s.pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (Server& s : servers_) {
    if (s.pid <= 0) continue;
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(s.pid, &status, WNOHANG);
      if (r == s.pid || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(s.pid, SIGKILL);
        while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    s.pid = -1;
  }
}

int RunSimServerChild(const std::string& dir, const std::string& clock_file) {
  Result<std::unique_ptr<SharedClock>> clock = SharedClock::Open(clock_file);
  if (!clock.ok()) return Fail(clock.status());
  NullLogger logger;
  Env env{clock->get(), RealEnv().random, &logger};
  Result<std::unique_ptr<sync::ServerStore>> store = sync::OpenServerDir(dir, env);
  if (!store.ok()) return Fail(store.status());
  Result<sync::KeyPair> keys = sync::ReadServerKeys(dir);
  if (!keys.ok()) return Fail(keys.status());
  sync::ServerCore core(store->get(), env);
  sync::SyncServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.threads = 2;
  opts.stop_on_signals = true;
  Result<std::unique_ptr<sync::SyncServer>> server = sync::SyncServer::Start(&core, std::move(keys).value(), env, opts);
  if (!server.ok()) return Fail(server.status());
  std::printf("%u\n", static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  // End of input (the sim closed the pipe or died) stops the server through
  // its SIGTERM handler; the thread never touches the server itself.
  std::thread([] {
    char buf[64];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    ::kill(::getpid(), SIGTERM);
  }).detach();
  (*server)->Wait();
  server->reset();
  return kExitOk;
}

}  // namespace doorstep::cli
