#include "doorstep/sync/key_pair.h"

#include <sodium.h>

namespace doorstep::sync {

KeyPair GenerateKeyPair(Random& random) {
  KeyPair kp;
  kp.private_key = SecretBytes(kPrivateKeyBytes);
  random.Fill(kp.private_key.data(), kPrivateKeyBytes);
  kp.public_key.assign(kPublicKeyBytes, '\0');
  // Cannot fail for a clamped scalar; the clamped scalar is never zero.
  if (crypto_scalarmult_base(reinterpret_cast<unsigned char*>(kp.public_key.data()),
                             kp.private_key.data()) != 0) {
    kp.public_key.clear();
  }
  return kp;
}

Result<KeyPair> KeyPairFromPrivateKey(std::string_view private_key) {
  if (private_key.size() != kPrivateKeyBytes) {
    return InvalidArgumentError("a Curve25519 private key is 32 bytes, got " +
                                std::to_string(private_key.size()));
  }
  KeyPair kp;
  kp.private_key = SecretBytes::Copy(private_key.data(), private_key.size());
  if (kp.private_key.empty()) return InternalError("cannot allocate secure memory");
  kp.public_key.assign(kPublicKeyBytes, '\0');
  if (crypto_scalarmult_base(reinterpret_cast<unsigned char*>(kp.public_key.data()),
                             kp.private_key.data()) != 0) {
    return InvalidArgumentError("invalid Curve25519 private key");
  }
  return kp;
}

}  // namespace doorstep::sync
