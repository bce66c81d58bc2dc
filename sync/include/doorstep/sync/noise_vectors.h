// Runs Noise test vectors (the Noise wiki's JSON format, as published by the
// cacophony and snow projects) through HandshakeState and CipherState.
//
// A vector is run when its protocol is one PatternFromProtocolName accepts
// and it uses no PSKs; others are skipped. For every message, the sender's
// output must equal "ciphertext" and the receiver must recover "payload";
// both sides' handshake hash must equal "handshake_hash" when given.
// Transport messages after the handshake alternate initiator → responder,
// responder → initiator, continuing the handshake's alternation.
// Thread safety: pure function.
#ifndef DOORSTEP_SYNC_NOISE_VECTORS_H_
#define DOORSTEP_SYNC_NOISE_VECTORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "doorstep/core/status.h"

namespace doorstep::sync {

struct NoiseVectorOutcome {
  enum Kind { kPassed, kFailed, kSkipped };
  Kind kind = kFailed;
  std::string protocol_name;  // as the file names it ("?" if missing)
  size_t messages = 0;        // messages checked
  std::string detail;         // why it failed or was skipped; empty if passed
};

// Runs every vector in `json_text`; one outcome per vector, in file order.
// kInvalidArgument if the text is not JSON or has no "vectors" array. A
// malformed vector (bad hex, missing field) is a failed outcome, not an error.
Result<std::vector<NoiseVectorOutcome>> RunNoiseVectors(std::string_view json_text);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_NOISE_VECTORS_H_
