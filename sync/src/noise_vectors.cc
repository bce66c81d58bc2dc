#include "doorstep/sync/noise_vectors.h"

#include <nlohmann/json.hpp>

#include <utility>

#include "doorstep/core/crypto.h"
#include "doorstep/sync/noise_cipher_state.h"
#include "doorstep/sync/noise_handshake.h"

namespace doorstep::sync {
namespace {

using nlohmann::json;

// Reads the hex string field `key` of `v` into *out. A missing field leaves
// *out empty; a non-string or bad hex is an error.
Status Hex(const json& v, const char* key, std::string* out) {
  out->clear();
  auto it = v.find(key);
  if (it == v.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgumentError(std::string(key) + " is not a string");
  Result<std::string> bytes = core::FromHex(it->get_ref<const std::string&>());
  if (!bytes.ok()) return InvalidArgumentError(std::string(key) + " is not hex");
  *out = std::move(bytes).value();
  return Status::Ok();
}

Status KeyPairField(const json& v, const char* key, KeyPair* out) {
  std::string priv;
  DS_RETURN_IF_ERROR(Hex(v, key, &priv));
  if (priv.empty()) return Status::Ok();
  DS_ASSIGN_OR_RETURN(*out, KeyPairFromPrivateKey(priv));
  return Status::Ok();
}

// Which keys a pattern gives each role (spec section 7).
bool HasStatic(HandshakePattern p) { return p != HandshakePattern::kNN; }
bool KnowsRemoteStatic(HandshakePattern p, bool initiator) {
  return p == HandshakePattern::kKK || (p == HandshakePattern::kIK && initiator);
}

Result<HandshakeState> MakeSide(const json& v, HandshakePattern p, bool initiator) {
  const std::string side = initiator ? "init_" : "resp_";
  HandshakeConfig c;
  c.pattern = p;
  c.initiator = initiator;
  DS_RETURN_IF_ERROR(Hex(v, (side + "prologue").c_str(), &c.prologue));
  if (HasStatic(p)) DS_RETURN_IF_ERROR(KeyPairField(v, (side + "static").c_str(), &c.local_static));
  if (KnowsRemoteStatic(p, initiator)) {
    DS_RETURN_IF_ERROR(Hex(v, (side + "remote_static").c_str(), &c.remote_static));
  }
  DS_RETURN_IF_ERROR(KeyPairField(v, (side + "ephemeral").c_str(), &c.local_ephemeral));
  if (c.local_ephemeral.empty()) return InvalidArgumentError(side + "ephemeral is missing");
  return HandshakeState::Create(std::move(c));
}

struct Sides {
  Sides(HandshakeState i, HandshakeState r) : init(std::move(i)), resp(std::move(r)) {}
  HandshakeState init, resp;
  CipherState init_send, init_recv, resp_send, resp_recv;
  bool transport = false;
};

// Checks message `i`; returns a failure description or "".
std::string CheckMessage(Sides& s, size_t i, const std::string& payload, const std::string& ct) {
  const bool from_init = i % 2 == 0;
  const std::string where = "message " + std::to_string(i) + ": ";
  std::string out, got;
  if (!s.transport) {
    HandshakeState& w = from_init ? s.init : s.resp;
    HandshakeState& r = from_init ? s.resp : s.init;
    if (Status st = w.WriteMessage(payload, &out); !st.ok()) return where + st.ToString();
    if (out != ct) return where + "ciphertext differs";
    if (Status st = r.ReadMessage(ct, &got); !st.ok()) return where + st.ToString();
  } else {
    CipherState& w = from_init ? s.init_send : s.resp_send;
    CipherState& r = from_init ? s.resp_recv : s.init_recv;
    if (Status st = w.EncryptWithAd({}, payload, &out); !st.ok()) return where + st.ToString();
    if (out != ct) return where + "ciphertext differs";
    if (Status st = r.DecryptWithAd({}, ct, &got); !st.ok()) return where + st.ToString();
  }
  if (got != payload) return where + "decrypted payload differs";
  return "";
}

NoiseVectorOutcome RunOne(const json& v) {
  NoiseVectorOutcome o;
  o.protocol_name = "?";
  if (!v.is_object()) {
    o.detail = "not an object";
    return o;
  }
  for (const char* key : {"protocol_name", "name"}) {
    auto it = v.find(key);
    if (it != v.end() && it->is_string()) {
      o.protocol_name = it->get_ref<const std::string&>();
      break;
    }
  }
  Result<HandshakePattern> pattern = PatternFromProtocolName(o.protocol_name);
  const bool psk = (v.contains("init_psks") && !v["init_psks"].empty()) ||
                   (v.contains("resp_psks") && !v["resp_psks"].empty());
  auto fail = v.find("fail");
  const bool expect_fail = fail != v.end() && fail->is_boolean() && fail->get<bool>();
  if (!pattern.ok() || psk || expect_fail) {
    o.kind = NoiseVectorOutcome::kSkipped;
    o.detail = psk ? "PSKs unsupported" : expect_fail ? "failure vectors unsupported"
                                                      : "unsupported protocol";
    return o;
  }
  Result<HandshakeState> init = MakeSide(v, *pattern, true);
  Result<HandshakeState> resp = MakeSide(v, *pattern, false);
  if (!init.ok() || !resp.ok()) {
    o.detail = (init.ok() ? resp.status() : init.status()).ToString();
    return o;
  }
  Sides s{std::move(init).value(), std::move(resp).value()};
  std::string hash;
  if (Status st = Hex(v, "handshake_hash", &hash); !st.ok()) {
    o.detail = st.ToString();
    return o;
  }
  auto msgs = v.find("messages");
  if (msgs == v.end() || !msgs->is_array() || msgs->empty()) {
    o.detail = "no messages";
    return o;
  }
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    std::string payload, ct;
    Status st = m.is_object() ? Hex(m, "payload", &payload) : InvalidArgumentError("not an object");
    if (st.ok()) st = Hex(m, "ciphertext", &ct);
    if (!st.ok()) {
      o.detail = "message " + std::to_string(i) + ": " + st.message();
      return o;
    }
    o.detail = CheckMessage(s, i, payload, ct);
    if (!o.detail.empty()) return o;
    ++o.messages;
    if (!s.transport && s.init.IsComplete() && s.resp.IsComplete()) {
      if (!hash.empty() &&
          (s.init.handshake_hash() != hash || s.resp.handshake_hash() != hash)) {
        o.detail = "handshake hash differs";
        return o;
      }
      if (!s.init.Split(&s.init_send, &s.init_recv).ok() ||
          !s.resp.Split(&s.resp_send, &s.resp_recv).ok()) {
        o.detail = "split failed";
        return o;
      }
      s.transport = true;
    }
  }
  if (!s.transport) {
    o.detail = "the messages end before the handshake completes";
    return o;
  }
  o.kind = NoiseVectorOutcome::kPassed;
  return o;
}

}  // namespace

Result<std::vector<NoiseVectorOutcome>> RunNoiseVectors(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return InvalidArgumentError("not valid JSON");
  if (!doc.is_object() || !doc.contains("vectors") || !doc["vectors"].is_array()) {
    return InvalidArgumentError("no \"vectors\" array");
  }
  std::vector<NoiseVectorOutcome> out;
  for (const json& v : doc["vectors"]) out.push_back(RunOne(v));
  return out;
}

}  // namespace doorstep::sync
