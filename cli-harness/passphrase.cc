#include "passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli.h"
#include "doorstep/core/crypto.h"

namespace doorstep::cli {
namespace {

constexpr size_t kMaxSecretBytes = 1024;

// Closes a file descriptor when it goes away.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Prompts on `tty` with echo off and reads one line into *out. Returns false
// on end of input or a read error. The terminal's settings are restored.
bool PromptLine(int tty, const std::string& prompt, SecretString* out) {
  termios saved{};
  bool have_termios = tcgetattr(tty, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  WriteAll(tty, prompt);
  char buf[kMaxSecretBytes];
  size_t len = 0;
  bool ok = false;
  while (len < sizeof buf) {
    char c = 0;
    ssize_t n = read(tty, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n' || c == '\r') {
      ok = true;
      break;
    }
    buf[len++] = c;
  }
  if (have_termios) tcsetattr(tty, TCSAFLUSH, &saved);
  if (ok) *out = SecretString(std::string(buf, len));
  sodium_memzero(buf, sizeof buf);
  return ok;
}

}  // namespace

SecretString& SecretString::operator=(SecretString&& o) noexcept {
  if (this != &o) {
    Wipe();
    s_ = std::move(o.s_);
    o.Wipe();
  }
  return *this;
}

void SecretString::Wipe() {
  if (!s_.empty()) sodium_memzero(&s_[0], s_.size());
  s_.clear();
}

core::KeySource KeyInput::source() const {
  core::KeySource k;
  if (passphrase) k.passphrase = &passphrase->str();
  if (keystore_key) k.keystore_key = &*keystore_key;
  return k;
}

int ReadSecret(const char* env_var, const std::string& prompt, bool confirm, SecretString* out) {
  if (const char* v = std::getenv(env_var); v != nullptr) {
    if (*v == '\0') return Fail(kExitUsage, std::string(env_var) + " is set but empty");
    *out = SecretString(std::string(v));
    return kExitOk;
  }
  Fd tty(open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (tty.get() < 0 || !isatty(tty.get())) {
    return Fail(kExitUsage, std::string("no passphrase: set ") + env_var +
                                " or run on a terminal to be asked for it");
  }
  SecretString first;
  if (!PromptLine(tty.get(), prompt, &first)) {
    return Fail(kExitUsage, std::string("no passphrase given (") + env_var + " is not set)");
  }
  if (first.str().empty()) return Fail(kExitUsage, "the passphrase must not be empty");
  if (confirm) {
    SecretString second;
    if (!PromptLine(tty.get(), "Repeat: ", &second) || second.str() != first.str()) {
      return Fail(kExitUsage, "the two passphrases differ; nothing was changed");
    }
  }
  *out = std::move(first);
  return kExitOk;
}

int ReadKeyFile(const std::string& path, SecretBytes* out) {
  const std::string what = "--keystore-key-file " + path + ": ";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Fail(kExitUsage, what + std::strerror(errno));
  unsigned char buf[256];
  size_t len = std::fread(buf, 1, sizeof buf, f);
  bool too_long = len == sizeof buf;
  std::fclose(f);
  int rc = kExitOk;
  if (too_long) {
    rc = Fail(kExitUsage, what + "too long; expected 32 raw bytes or 64 hex characters");
  } else if (len == core::kKeyBytes) {
    *out = SecretBytes::Copy(buf, len);
  } else {
    size_t b = 0, e = len;
    while (b < e && std::isspace(buf[b])) ++b;
    while (e > b && std::isspace(buf[e - 1])) --e;
    Result<std::string> raw = core::FromHex(
        std::string_view(reinterpret_cast<const char*>(buf) + b, e - b));
    if (e - b != 2 * core::kKeyBytes || !raw.ok()) {
      rc = Fail(kExitUsage, what + "expected 32 raw bytes or 64 hex characters");
    } else {
      *out = SecretBytes::Copy(raw->data(), raw->size());
      sodium_memzero(&(*raw)[0], raw->size());
    }
  }
  sodium_memzero(buf, sizeof buf);
  if (rc == kExitOk && out->empty()) return Fail(kExitInternal, "cannot allocate key memory");
  return rc;
}

int ReadKeyInput(const std::string& key_file, bool confirm, KeyInput* out) {
  if (!key_file.empty()) {
    SecretBytes key;
    if (int rc = ReadKeyFile(key_file, &key); rc != kExitOk) return rc;
    out->keystore_key = std::move(key);
    if (std::getenv(kPassphraseEnv) == nullptr) return kExitOk;
  }
  SecretString pass;
  if (int rc = ReadSecret(kPassphraseEnv, "Passphrase: ", confirm, &pass); rc != kExitOk) {
    return rc;
  }
  out->passphrase = std::move(pass);
  return kExitOk;
}

}  // namespace doorstep::cli
