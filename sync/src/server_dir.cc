#include "doorstep/sync/server_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "doorstep/core/crypto.h"
#include "doorstep/sync/pg_server_store.h"

namespace doorstep::sync {

namespace {

constexpr char kMagic[] = "DSDKEY1\n";
constexpr size_t kMagicLen = 8;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return InternalError("cannot sync " + dir);
  return Status::Ok();
}

// server.conf: {"backend": "postgres", "conninfo": "..."}, 0600 (the
// conninfo may hold a password).
Status WriteConf(const std::string& path, const std::string& conninfo) {
  std::string text = nlohmann::json({{"backend", "postgres"}, {"conninfo", conninfo}}).dump(2) + "\n";
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return InternalError("cannot create " + path + ": " + std::strerror(errno));
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    ::unlink(path.c_str());
    return InternalError("cannot write " + path);
  }
  return Status::Ok();
}

// The conninfo of a PostgreSQL server dir; "" for SQLite (no server.conf).
Result<std::string> ReadConf(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::string();
    return InternalError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return FailedPreconditionError(path + " is not a regular file");
  if ((st.st_mode & 077) != 0) return FailedPreconditionError(path + " is readable by others (chmod 600)");
  if (st.st_size > 64 * 1024) return CorruptionError(path + " is too large");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  if (!text.empty() && ::read(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return CorruptionError("cannot read " + path);
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return CorruptionError(path + " is not JSON");
  auto backend = j.find("backend");
  auto conninfo = j.find("conninfo");
  if (backend == j.end() || !backend->is_string() || *backend != "postgres" || conninfo == j.end() ||
      !conninfo->is_string() || conninfo->get_ref<const std::string&>().empty()) {
    return CorruptionError(path + ": expected backend \"postgres\" and a conninfo");
  }
  return conninfo->get<std::string>();
}

}  // namespace

Status WriteDataKeyFile(const std::string& path, const SecretBytes& key) {
  if (key.size() != core::kKeyBytes) return InvalidArgumentError("data key must be 32 bytes");
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) return FailedPreconditionError(path + " already exists");
    return InternalError("cannot create " + path + ": " + std::strerror(errno));
  }
  SecretBytes buf(kMagicLen + key.size());
  std::memcpy(buf.data(), kMagic, kMagicLen);
  std::memcpy(buf.data() + kMagicLen, key.data(), key.size());
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::write(fd.get(), buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::unlink(path.c_str());
      return InternalError("cannot write " + path);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    ::unlink(path.c_str());
    return InternalError("cannot sync " + path);
  }
  return Status::Ok();
}

Result<SecretBytes> ReadDataKeyFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFoundError("no data key at " + path);
    return InternalError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return FailedPreconditionError(path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) return FailedPreconditionError(path + " is readable by others (chmod 600)");
  if (static_cast<size_t>(st.st_size) != kMagicLen + core::kKeyBytes) {
    return CorruptionError(path + " has the wrong size");
  }
  SecretBytes buf(kMagicLen + core::kKeyBytes);
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return CorruptionError("cannot read " + path);
    off += static_cast<size_t>(n);
  }
  if (std::memcmp(buf.data(), kMagic, kMagicLen) != 0) return CorruptionError(path + " is not a data key file");
  return SecretBytes::Copy(buf.data() + kMagicLen, core::kKeyBytes);
}

Result<KeyPair> InitServerDir(const std::string& dir, Env env, const std::string& postgres) {
  if (dir.empty()) return InvalidArgumentError("--dir: empty");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return InternalError("cannot create " + dir + ": " + std::strerror(errno));
  }
  std::string key_path = dir + "/" + kServerKeyFile;
  std::string data_path = dir + "/" + kDataKeyFile;
  std::string conf_path = dir + "/" + kServerConfFile;
  if (Exists(key_path) || Exists(data_path) || Exists(dir + "/server.db") || Exists(conf_path)) {
    return FailedPreconditionError(dir + " already holds a server");
  }
  KeyPair keys = GenerateKeyPair(*env.random);
  DS_RETURN_IF_ERROR(WriteKeyPairFile(key_path, keys));
  SecretBytes data_key = core::RandomKey(*env.random);
  Status s = WriteDataKeyFile(data_path, data_key);
  if (s.ok() && !postgres.empty()) s = WriteConf(conf_path, postgres);
  if (s.ok()) {
    auto store = postgres.empty() ? OpenSqliteServerStore(dir, std::move(data_key), env, /*create=*/true)
                                  : OpenPgServerStore(postgres, std::move(data_key), env, /*create=*/true);
    s = store.status();
  }
  if (!s.ok()) {
    for (const std::string& p : {key_path, data_path, conf_path}) ::unlink(p.c_str());
    return s;
  }
  DS_RETURN_IF_ERROR(SyncDir(dir));
  return keys;
}

Result<std::unique_ptr<ServerStore>> OpenServerDir(const std::string& dir, Env env) {
  DS_ASSIGN_OR_RETURN(std::string conninfo, ReadConf(dir + "/" + kServerConfFile));
  if (conninfo.empty() && !Exists(dir + "/server.db")) {
    return NotFoundError("no server in " + dir + " (run `doorstep server init`)");
  }
  DS_ASSIGN_OR_RETURN(SecretBytes key, ReadDataKeyFile(dir + "/" + kDataKeyFile));
  if (!conninfo.empty()) return OpenPgServerStore(conninfo, std::move(key), env, /*create=*/false);
  return OpenSqliteServerStore(dir, std::move(key), env, /*create=*/false);
}

Result<KeyPair> ReadServerKeys(const std::string& dir) { return ReadKeyPairFile(dir + "/" + kServerKeyFile); }

}  // namespace doorstep::sync
