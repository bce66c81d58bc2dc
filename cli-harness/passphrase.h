// Key input for the device commands: the passphrase (from an environment
// variable, else a prompt with echo off on the terminal — never from a
// command-line argument) and an optional platform-keystore key read from a
// file (32 raw bytes or 64 hex characters), combined into a core::KeySource.
//
// Ownership: a KeyInput owns its copies of the secrets and wipes them on
// destruction; the KeySource it hands out points into it and must not outlive
// it. Thread safety: a value; one thread at a time. The prompt touches the
// process's terminal (/dev/tty) and restores its settings before returning.
#ifndef DOORSTEP_CLI_PASSPHRASE_H_
#define DOORSTEP_CLI_PASSPHRASE_H_

#include <optional>
#include <string>

#include "doorstep/core/secret.h"
#include "doorstep/core/store.h"

namespace doorstep::cli {

inline constexpr char kPassphraseEnv[] = "DOORSTEP_PASSPHRASE";
inline constexpr char kNewPassphraseEnv[] = "DOORSTEP_NEW_PASSPHRASE";

// A passphrase held in a std::string that is wiped when it goes away.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string s) : s_(std::move(s)) {}
  ~SecretString() { Wipe(); }
  SecretString(SecretString&& o) noexcept : s_(std::move(o.s_)) { o.Wipe(); }
  SecretString& operator=(SecretString&& o) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  const std::string& str() const { return s_; }
  void Wipe();

 private:
  std::string s_;
};

// Secrets that open a store. Either part may be absent; the store decides
// whether what is present is enough.
class KeyInput {
 public:
  std::optional<SecretString> passphrase;
  std::optional<SecretBytes> keystore_key;

  bool empty() const { return !passphrase && !keystore_key; }
  // Points into this object. REQUIRES: *this outlives the KeySource.
  core::KeySource source() const;
};

// Reads a secret from environment variable `env_var`, else prompts for it on
// the terminal with echo off (`prompt`, then again with "Repeat: " when
// `confirm`; the two must match). Returns 0 and fills *out on success; on
// failure prints one "doorstep: …" line and returns the exit code: 2 when
// there is no terminal and `env_var` is unset (the message names `env_var`),
// or the answers differ or are empty.
int ReadSecret(const char* env_var, const std::string& prompt, bool confirm, SecretString* out);

// Reads a keystore key file: exactly 32 raw bytes, or 64 hex characters
// (surrounding whitespace ignored). Returns 0 and fills *out, or prints
// "doorstep: --keystore-key-file FILE: …" and returns 2.
int ReadKeyFile(const std::string& path, SecretBytes* out);

// Builds the key input of a device command. With no key file, the passphrase
// is required (ReadSecret with kPassphraseEnv). With a key file, the keystore
// key is used, together with the passphrase only if kPassphraseEnv is set
// (no prompt): keystore-only stores are opened from the file alone.
// Returns 0 or an exit code (after printing the error).
int ReadKeyInput(const std::string& key_file, bool confirm, KeyInput* out);

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_PASSPHRASE_H_
