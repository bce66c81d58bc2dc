// SyncClient: opening the Noise connection to the enrolled server (RunSync)
// and enrolment (Enroll).
#include <charconv>

#include "client_convert.h"
#include "client_session_internal.h"
#include "doorstep/core/crypto.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/channel_client.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync {
namespace {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

Result<HostPort> ParseHostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    return InvalidArgumentError("server must be HOST:PORT, not '" + s + "'");
  }
  HostPort hp;
  hp.host = s.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  unsigned port = 0;
  const char* b = s.data() + colon + 1;
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || port == 0 || port > 65535) {
    return InvalidArgumentError("server port in '" + s + "' is not a number between 1 and 65535");
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

class ClientMessageChannel : public MessageChannel {
 public:
  explicit ClientMessageChannel(ClientChannel* ch) : ch_(ch) {}
  Status Send(std::string_view message) override { return ch_->Send(message); }
  Result<std::string> Receive() override { return ch_->Receive(); }

 private:
  ClientChannel* ch_;
};

Result<std::unique_ptr<ClientChannel>> Connect(core::Store& store, Env env, const std::string& server,
                                               const std::string& server_key_hex, const std::string& payload,
                                               int timeout_ms, bool wait_for_verdict = true) {
  DS_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(server));
  DS_ASSIGN_OR_RETURN(std::string server_key, core::FromHex(server_key_hex));
  if (server_key.size() != 32) return InvalidArgumentError("server key must be 64 hex characters");
  DS_ASSIGN_OR_RETURN(auto pair, store.GetDeviceKeyPair());
  KeyPair keys{std::move(pair.first), std::move(pair.second)};
  ClientOptions options;
  options.connect_timeout_ms = timeout_ms;
  options.io_timeout_ms = timeout_ms;
  options.wait_for_verdict = wait_for_verdict;
  return ClientChannel::Connect(hp.host, hp.port, std::move(keys), server_key, payload, *env.random, options);
}

bool IsRevocation(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied && s.message().find("revoked") != std::string::npos;
}

}  // namespace

Result<SyncReport> RunSync(core::Store& store, Env env, const SyncOptions& options) {
  DS_ASSIGN_OR_RETURN(auto enrollment, store.GetEnrollment());
  if (!enrollment) return FailedPreconditionError("this device is not enrolled: run 'device enroll' first");
  if (options.progress) options.progress(SyncProgress{"connect", 0, 1});
  // hello goes out right after handshake message 3, without waiting for the
  // transport's verdict (the server reads it only after accepting), so a
  // no-op sync is one round trip after the first two handshake messages.
  auto ch = Connect(store, env, enrollment->server, enrollment->server_key_hex, "", options.timeout_ms,
                    /*wait_for_verdict=*/false);
  // (A Result is never built from an ok Status: debug builds assert on it.)
  auto session = [&]() -> Result<SyncReport> {
    if (!ch.ok()) return ch.status();
    if (options.progress) options.progress(SyncProgress{"connect", 1, 1});
    const int64_t handshake = static_cast<int64_t>((*ch)->bytes_sent() + (*ch)->bytes_received());
    ClientMessageChannel mc(ch->get());
    // The last-sync time joins the session's own commit; a sync that wrote
    // nothing else records it without waiting for an fsync (see
    // core::SetLastSyncUnsynced), so `device status` still shows every sync.
    auto finish = [&](bool in_batch) -> Status {
      const int64_t now = env.clock->NowMillis();
      return in_batch ? core::SetLastSync(store, now) : core::SetLastSyncUnsynced(store, now);
    };
    Result<SyncReport> r = RunSessionThen(store, mc, options, finish);
    (*ch)->Close();
    if (r.ok()) {
      r->bytes_sent = static_cast<int64_t>((*ch)->bytes_sent());
      r->bytes_received = static_cast<int64_t>((*ch)->bytes_received());
      r->handshake_bytes = handshake;
    }
    return r;
  };
  Result<SyncReport> report = session();
  if (!report.ok() && IsRevocation(report.status())) {
    // The server says this device is revoked: wipe the store, as told.
    Status wiped = store.Destroy();
    return PermissionDeniedError("this device has been revoked by the server; the store has been wiped" +
                                 std::string(wiped.ok() ? "" : " (" + wiped.message() + ")"));
  }
  if (report.ok()) {
    if (options.progress) options.progress(SyncProgress{"done", 1, 1});
  }
  return report;
}

Status Enroll(core::Store& store, Env env, const std::string& server, const std::string& server_key_hex,
              const std::string& code) {
  DS_ASSIGN_OR_RETURN(auto existing, store.GetEnrollment());
  if (existing) return FailedPreconditionError("this device is already enrolled with " + existing->server);
  if (code.empty() || code.size() > 64) return InvalidArgumentError("enrolment code must be 1-64 characters");
  std::string payload = EncodeEnrolRequest(EnrolRequest{code, store.device_id()});
  DS_ASSIGN_OR_RETURN(auto ch, Connect(store, env, server, server_key_hex, payload, 15000));
  DS_ASSIGN_OR_RETURN(uint64_t since, core::Checkpoint(store));
  Hello hello;
  hello.since = since;
  hello.pull = false;
  DS_RETURN_IF_ERROR(ch->Send(Encode(hello)));
  DS_ASSIGN_OR_RETURN(std::string bytes, ch->Receive());
  DS_ASSIGN_OR_RETURN(Message msg, Decode(bytes));
  if (const Error* e = std::get_if<Error>(&msg)) return StatusFromWireError(*e);
  const Welcome* welcome = std::get_if<Welcome>(&msg);
  if (welcome == nullptr) return InvalidArgumentError("server did not welcome the enrolment");
  (void)ch->Send(Encode(Bye{}));
  ch->Close();
  core::Enrollment e{server, core::ToHex(core::FromHex(server_key_hex).value()), welcome->practitioner, welcome->role};
  return store.SetEnrollment(e);
}

}  // namespace doorstep::sync
