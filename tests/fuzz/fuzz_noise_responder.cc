// Fuzzes the server side of the transport: a SecureChannel responder reading
// handshake and transport messages.
//   input[0] % 2 == 0: the rest is the raw byte stream from a "device".
//   input[0] % 2 == 1: a genuine device completes the XX handshake (the
//     input's next byte picks the third message's payload length, from the
//     input), then the rest is split into transport plaintexts (1-byte
//     length-ish prefix each) that the device encrypts and frames properly,
//     so the responder's post-handshake parsing is reached.
// The device keys, the server key and all randomness are fixed, so every
// input is reproducible.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/noise_cipher_state.h"
#include "doorstep/sync/noise_handshake.h"
#include "doorstep/sync/secure_channel.h"
#include "frame_reader.h"

namespace {

using namespace doorstep;        // NOLINT
using namespace doorstep::sync;  // NOLINT

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Keys {
  KeyPair server, device;
  Keys() {
    Check(Initialize().ok());
    SeededRandom r(2024);
    server = GenerateKeyPair(r);
    device = GenerateKeyPair(r);
  }
};
const Keys& TheKeys() {
  static const Keys* keys = new Keys();
  return *keys;
}

// Accepts a payload whose first byte is even (or an empty one).
Status Authorize(const std::string&, const std::string& payload) {
  if (!payload.empty() && (static_cast<unsigned char>(payload[0]) & 1)) {
    return PermissionDeniedError("odd payload");
  }
  return Status::Ok();
}

void Frame(std::string_view body, std::string* out) {
  internal::AppendFrameHeader(body.size(), out);
  out->append(body);
}

void Genuine(SecureChannel& server, std::string_view in, SeededRandom& random) {
  const Keys& keys = TheKeys();
  size_t payload_len = in.empty() ? 0 : static_cast<unsigned char>(in[0]);
  if (!in.empty()) in.remove_prefix(1);
  payload_len = std::min(payload_len, in.size());
  std::string payload(in.substr(0, payload_len));
  in.remove_prefix(payload_len);

  HandshakeConfig c;
  c.initiator = true;
  c.prologue = "doorstep-transport-v1";
  c.local_static = keys.device.Clone();
  c.random = &random;
  Result<HandshakeState> hs = HandshakeState::Create(std::move(c));
  Check(hs.ok());
  std::string m1, m3, wire, got;
  Check(hs->WriteMessage("", &m1).ok());
  Frame(m1, &wire);
  Check(server.Feed(wire).ok());
  std::string reply = server.TakeOutput();
  Check(reply.size() > 2);
  Check(hs->ReadMessage(std::string_view(reply).substr(2), &got).ok());
  Check(hs->WriteMessage(payload, &m3).ok());
  wire.clear();
  Frame(m3, &wire);
  Status verdict = server.Feed(wire);
  Check(verdict.ok() == Authorize("", payload).ok());
  if (!verdict.ok()) return;
  CipherState send, recv;
  Check(hs->Split(&send, &recv).ok());
  // Transport plaintexts: each takes (1 + in[0] * 3) bytes of the input.
  while (!in.empty()) {
    size_t n = 1 + static_cast<size_t>(static_cast<unsigned char>(in[0])) * 3;
    std::string_view pt = in.substr(1, n);
    in.remove_prefix(std::min(in.size(), n + 1));
    std::string ct;
    Check(send.EncryptWithAd({}, pt, &ct).ok());
    wire.clear();
    Frame(ct, &wire);
    if (!server.Feed(wire).ok()) return;
    while (server.HasMessage()) Check(server.PopMessage().size() <= (1u << 20));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  SeededRandom random(7);
  ChannelOptions options;
  options.max_message_bytes = 1 << 20;
  Result<SecureChannel> server =
      SecureChannel::Responder(TheKeys().server.Clone(), Authorize, random, options);
  Check(server.ok());
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    (void)server->Feed(in);
    (void)server->FinishInput();
  } else {
    Genuine(*server, in, random);
  }
  return 0;
}
