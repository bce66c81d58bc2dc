// HandshakeState (Noise specification rev 34, section 5.3) for
// Noise_{NN,KK,IK,XX}_25519_ChaChaPoly_BLAKE2b.
//
// Doorstep itself uses XX (through SecureChannel); NN, KK and IK exist so the
// published test vectors exercise the whole state machine. Create one per
// handshake, alternate WriteMessage/ReadMessage as IsMyTurn() says, then
// Split() into the two transport CipherStates. Any failure is final: the
// handshake is dead and every later call fails with kFailedPrecondition.
//
// Ownership: owns its keys (SecretBytes, wiped). Move-only.
// Thread safety: not thread-safe; one owner uses it at a time.
#ifndef DOORSTEP_SYNC_NOISE_HANDSHAKE_H_
#define DOORSTEP_SYNC_NOISE_HANDSHAKE_H_

#include <memory>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/noise_cipher_state.h"

namespace doorstep::sync {

enum class HandshakePattern { kNN, kKK, kIK, kXX };

// "Noise_XX_25519_ChaChaPoly_BLAKE2b" → kXX, and so on. kInvalidArgument for
// any other pattern, DH, cipher, hash or modifier (psk, fallback, ...).
Result<HandshakePattern> PatternFromProtocolName(std::string_view protocol_name);
// The full protocol name, e.g. "Noise_XX_25519_ChaChaPoly_BLAKE2b".
std::string ProtocolName(HandshakePattern pattern);

struct HandshakeConfig {
  HandshakePattern pattern = HandshakePattern::kXX;
  bool initiator = false;
  std::string prologue;
  // s: required when the pattern gives this side a static key (XX, KK, IK
  // both sides); must be empty otherwise.
  KeyPair local_static;
  // rs known before the handshake: KK (both sides) and IK (initiator); must
  // be empty otherwise. 32 bytes.
  std::string remote_static;
  // Test vectors only: a fixed ephemeral key pair. Empty: e is drawn from
  // `random` when the first "e" token is written.
  KeyPair local_ephemeral;
  // Must outlive the HandshakeState when local_ephemeral is empty.
  Random* random = nullptr;
};

class HandshakeState {
 public:
  // Initialize(): protocol name, prologue and pre-message keys mixed in.
  // kInvalidArgument if the keys do not fit the pattern and role.
  static Result<HandshakeState> Create(HandshakeConfig config);

  HandshakeState(HandshakeState&&) noexcept;
  HandshakeState& operator=(HandshakeState&&) noexcept;
  ~HandshakeState();

  bool IsInitiator() const;
  // True when the next step is WriteMessage; false when it is ReadMessage or
  // when the handshake is complete or dead.
  bool IsMyTurn() const;
  bool IsComplete() const;

  // Appends the next handshake message, carrying `payload`, to *message.
  // kFailedPrecondition if it is not this side's turn (or the handshake is
  // complete or dead); kInvalidArgument if the message would exceed 65535
  // bytes (the handshake is then dead).
  Status WriteMessage(std::string_view payload, std::string* message);
  // Reads the peer's next handshake message and appends its payload to
  // *payload. kDataLoss if the message is malformed, too long, or fails
  // authentication, or a DH result is all zeros (the handshake is then dead);
  // kFailedPrecondition out of turn.
  Status ReadMessage(std::string_view message, std::string* payload);

  // After completion: moves the transport keys out. `send` encrypts this
  // side's messages, `receive` decrypts the peer's. kFailedPrecondition
  // unless IsComplete() (and only once).
  Status Split(CipherState* send, CipherState* receive);

  // h, 64 bytes; the handshake hash once IsComplete() (channel binding).
  const std::string& handshake_hash() const;
  // The peer's static public key (32 bytes) once known, else empty.
  const std::string& remote_static() const;

 private:
  struct Impl;
  explicit HandshakeState(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_NOISE_HANDSHAKE_H_
