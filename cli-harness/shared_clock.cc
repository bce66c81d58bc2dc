// SharedClock: see shared_clock.h.
#include "shared_clock.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace doorstep::cli {
namespace {

constexpr size_t kSize = sizeof(int64_t);

Result<int64_t*> Map(int fd, bool writable, const std::string& path) {
  void* p = ::mmap(nullptr, kSize, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return UnavailableError("cannot map " + path + ": " + std::strerror(errno));
  return static_cast<int64_t*>(p);
}

}  // namespace

Result<std::unique_ptr<SharedClock>> SharedClock::Create(const std::string& path, int64_t now_ms) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return UnavailableError("cannot create " + path + ": " + std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(kSize)) != 0) {
    ::close(fd);
    return UnavailableError("cannot size " + path + ": " + std::strerror(errno));
  }
  DS_ASSIGN_OR_RETURN(int64_t* cell, Map(fd, true, path));
  std::unique_ptr<SharedClock> c(new SharedClock(cell, true));
  c->Set(now_ms);
  return c;
}

Result<std::unique_ptr<SharedClock>> SharedClock::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError("no clock file " + path);
    return UnavailableError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size != static_cast<off_t>(kSize)) {
    ::close(fd);
    return CorruptionError(path + " is not a clock file (8 bytes)");
  }
  DS_ASSIGN_OR_RETURN(int64_t* cell, Map(fd, false, path));
  return std::unique_ptr<SharedClock>(new SharedClock(cell, false));
}

SharedClock::~SharedClock() { ::munmap(cell_, kSize); }

int64_t SharedClock::NowMillis() { return __atomic_load_n(cell_, __ATOMIC_ACQUIRE); }

int64_t SharedClock::MonotonicMicros() { return RealEnv().clock->MonotonicMicros(); }

void SharedClock::Set(int64_t now_ms) {
  if (writable_) __atomic_store_n(cell_, now_ms, __ATOMIC_RELEASE);
}

}  // namespace doorstep::cli
