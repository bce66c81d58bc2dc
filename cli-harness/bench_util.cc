#include "bench_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "doorstep/core/samples.h"

extern char** environ;

namespace doorstep::cli {

double MsSince(BenchClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double clamped = std::min(1.0, std::max(0.0, p));
  size_t i = static_cast<size_t>(clamped * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

BenchSamples::BenchSamples(int64_t now_ms) : base_(core::SampleFields("visit_note", now_ms)) {
  constexpr size_t kTarget = 1000;  // + the marker ≈ 1 KB
  for (const char* key : {"analysis", "wishes_and_feelings", "purpose", "observations"}) {
    size_t size = base_.dump().size();
    auto it = base_.find(key);
    if (size <= kTarget || it == base_.end() || !it->is_string()) continue;
    std::string text = it->get<std::string>();
    size_t cut = std::min(size - kTarget, text.size() > 60 ? text.size() - 60 : 0);
    *it = text.substr(0, text.size() - cut);
  }
  observations_ = base_.value("observations", std::string());
}

const nlohmann::json& BenchSamples::Fields(int64_t i) {
  base_["observations"] = observations_ + "\nBench marker " + std::to_string(i) + ".";
  return base_;
}

nlohmann::json BenchSamples::Edit(int64_t i, int round) const {
  return {{"observations",
           observations_ + "\nEdited in round " + std::to_string(round) + ", marker " + std::to_string(i) + "."}};
}

BenchTempDir::~BenchTempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Status BenchTempDir::Create(const std::string& parent, const std::string& prefix) {
  std::error_code ec;
  std::string base = parent.empty() ? std::filesystem::temp_directory_path(ec).string() : parent;
  std::string tmpl = base + "/" + prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return InvalidArgumentError(base + ": cannot make a temporary directory (" + std::strerror(errno) + ")");
  }
  path_ = tmpl;
  return Status::Ok();
}

Status ServerProcess::Start(const std::string& dir) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return InternalError("cannot find this program's path");
  self[n] = '\0';
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return InternalError("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  std::vector<std::string> args = {self, "server", "run", "--dir", dir, "--listen", "127.0.0.1:0"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, self, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    pid_ = 0;
    return InternalError(std::string("cannot start the server process: ") + std::strerror(rc));
  }
  std::string line;
  char c;
  pollfd p{fds[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && ::poll(&p, 1, 20'000) > 0 && ::read(fds[0], &c, 1) == 1) {
    line.push_back(c);
  }
  ::close(fds[0]);
  size_t colon = line.rfind(':');
  unsigned long port = colon == std::string::npos ? 0 : std::strtoul(line.c_str() + colon + 1, nullptr, 10);
  if (line.rfind("listening on ", 0) != 0 || port == 0 || port > 65535) {
    Stop();
    return UnavailableError("the server process did not start: " + line);
  }
  port_ = static_cast<uint16_t>(port);
  return Status::Ok();
}

void ServerProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
}

double ServerProcess::MemoryMb(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
  }
  return 0;
}

double ServerProcess::OnCpuMs() const {
  std::error_code ec;
  double ns = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    double run = 0;
    if (in >> run) ns += run;
  }
  return ns / 1e6;
}

double ServerProcess::CpuSeconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 > stat.size()) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ServerProcess::IoMb(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/io");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtod(line.c_str() + field.size() + 1, nullptr) / (1024.0 * 1024.0);
  }
  return 0;
}

double OwnCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace doorstep::cli
