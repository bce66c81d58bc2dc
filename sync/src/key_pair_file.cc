// The server's key pair file: owner-only, fixed size, checked on read.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "doorstep/sync/key_pair.h"

namespace doorstep::sync {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'N', 'K', 'E', 'Y', '1', '\n'};
constexpr size_t kFileBytes = sizeof kMagic + kPrivateKeyBytes + kPublicKeyBytes;

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes an fd on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status WriteKeyPairFile(const std::string& path, const KeyPair& keys) {
  if (keys.private_key.size() != kPrivateKeyBytes || keys.public_key.size() != kPublicKeyBytes) {
    return InvalidArgumentError("malformed key pair");
  }
  Fd f;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f.fd < 0) {
    if (errno == EEXIST) return FailedPreconditionError("key file " + path + " already exists");
    if (errno == ENOENT) return NotFoundError(Errno("cannot create key file", path));
    return InternalError(Errno("cannot create key file", path));
  }
  unsigned char buf[kFileBytes];
  std::memcpy(buf, kMagic, sizeof kMagic);
  std::memcpy(buf + sizeof kMagic, keys.private_key.data(), kPrivateKeyBytes);
  std::memcpy(buf + sizeof kMagic + kPrivateKeyBytes, keys.public_key.data(), kPublicKeyBytes);
  size_t done = 0;
  Status status;
  while (done < kFileBytes) {
    ssize_t n = ::write(f.fd, buf + done, kFileBytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = InternalError(Errno("cannot write key file", path));
      break;
    }
    done += static_cast<size_t>(n);
  }
  sodium_memzero(buf, sizeof buf);
  if (status.ok() && ::fsync(f.fd) != 0) status = InternalError(Errno("cannot fsync", path));
  if (!status.ok()) {
    ::unlink(path.c_str());
    return status;
  }
  // Make the directory entry durable too.
  Fd dir;
  dir.fd = ::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir.fd >= 0) (void)::fsync(dir.fd);
  return Status::Ok();
}

Result<KeyPair> ReadKeyPairFile(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (f.fd < 0) {
    if (errno == ENOENT) return NotFoundError("key file " + path + " does not exist");
    if (errno == ELOOP) return FailedPreconditionError("key file " + path + " is a symbolic link");
    return InternalError(Errno("cannot open key file", path));
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return InternalError(Errno("cannot stat key file", path));
  if (!S_ISREG(st.st_mode)) {
    return FailedPreconditionError("key file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPreconditionError("key file " + path + " is accessible by group or others (mode " +
                                   mode + "); it must be 0600");
  }
  if (st.st_size != static_cast<off_t>(kFileBytes)) {
    return CorruptionError("key file " + path + " has " + std::to_string(st.st_size) +
                           " bytes, expected " + std::to_string(kFileBytes));
  }
  unsigned char buf[kFileBytes + 1];
  size_t done = 0;
  while (done < sizeof buf) {
    ssize_t n = ::read(f.fd, buf + done, sizeof buf - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sodium_memzero(buf, sizeof buf);
      return InternalError(Errno("cannot read key file", path));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  const char* raw = reinterpret_cast<const char*>(buf);
  const bool size_ok = done == kFileBytes;
  const bool magic_ok = size_ok && std::memcmp(buf, kMagic, sizeof kMagic) == 0;
  std::string stored_public(raw + sizeof kMagic + kPrivateKeyBytes, kPublicKeyBytes);
  Result<KeyPair> kp = InternalError("unreachable");
  if (magic_ok) kp = KeyPairFromPrivateKey(std::string_view(raw + sizeof kMagic, kPrivateKeyBytes));
  sodium_memzero(buf, sizeof buf);
  if (!size_ok) return CorruptionError("key file " + path + " changed size while being read");
  if (!magic_ok) return CorruptionError("key file " + path + " is not a Doorstep key pair file");
  if (!kp.ok()) {
    if (kp.status().code() != StatusCode::kInvalidArgument) return kp.status();
    return CorruptionError("key file " + path + ": bad private key");
  }
  if (sodium_memcmp(kp->public_key.data(), stored_public.data(), kPublicKeyBytes) != 0) {
    return CorruptionError("key file " + path + ": public key does not match private key");
  }
  return kp;
}

}  // namespace doorstep::sync
