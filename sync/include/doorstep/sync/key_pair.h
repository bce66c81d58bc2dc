// KeyPair: a Curve25519 key pair as Noise uses it (static or ephemeral), and
// the server's key pair file.
//
// The private key lives in SecretBytes (wiped on destruction); the public key
// is 32 raw bytes in a std::string. A KeyPair is move-only; Clone() makes an
// explicit deep copy. Thread safety: a value; not shared.
//
// Key pair file (docs/transport.md): "DSNKEY1\n" (8 bytes) || private (32) ||
// public (32) = 72 bytes, mode 0600, owner-only.
#ifndef DOORSTEP_SYNC_KEY_PAIR_H_
#define DOORSTEP_SYNC_KEY_PAIR_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"

namespace doorstep::sync {

inline constexpr size_t kPublicKeyBytes = 32;
inline constexpr size_t kPrivateKeyBytes = 32;

struct KeyPair {
  SecretBytes private_key;  // 32 bytes
  std::string public_key;   // 32 raw bytes

  bool empty() const { return private_key.empty(); }
  KeyPair Clone() const { return KeyPair{private_key.Clone(), public_key}; }
};

// A fresh key pair with its private key drawn from `random`.
KeyPair GenerateKeyPair(Random& random);

// The key pair whose private key is `private_key` (the public key is
// computed). kInvalidArgument unless it is 32 bytes.
Result<KeyPair> KeyPairFromPrivateKey(std::string_view private_key);

// Writes `keys` to a new file at `path`, created with O_CREAT|O_EXCL and mode
// 0600, fsync'd (file and directory). Fails with kFailedPrecondition if the
// file exists, kInvalidArgument if `keys` is malformed, kInternal on other
// I/O errors (a partial file is removed).
Status WriteKeyPairFile(const std::string& path, const KeyPair& keys);

// Reads a key pair file. kNotFound if absent; kFailedPrecondition if it is
// not a regular file or is readable or writable by group or others;
// kCorruption if its size, magic or key pair do not check out.
Result<KeyPair> ReadKeyPairFile(const std::string& path);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_KEY_PAIR_H_
