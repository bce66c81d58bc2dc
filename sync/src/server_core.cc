// ServerCore: admin operations, the handshake's peer decision and hello.
#include "doorstep/sync/server_core.h"

#include <cctype>
#include <iterator>

#include <sodium.h>

#include "doorstep/core/crypto.h"
#include "server_core_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace {

constexpr int64_t kMinuteMs = 60 * 1000;
constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// 16 base32 characters from 10 random bytes, grouped by four.
std::string NewCode(Random& random) {
  unsigned char b[10];
  random.Fill(b, sizeof b);
  std::string raw;
  uint64_t acc = 0;
  int bits = 0;
  for (unsigned char c : b) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      raw.push_back(kBase32[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  sodium_memzero(b, sizeof b);
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(raw[i]);
  }
  return out;
}

}  // namespace

namespace internal {

std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string CodeHash(std::string_view code) {
  return core::Blake2b256("doorstep-enrol-code|" + NormalizeCode(code));
}

std::string DeviceActor(std::string_view device_id) { return "device:" + std::string(device_id); }

bool SeenLongAgo(const DeviceInfo& d, int64_t now) {
  return now - d.last_seen_at >= 60 * 1000 || now < d.last_seen_at;
}

Status AppendAuditEntry(ServerTxn& txn, Env env, std::string actor, std::string action, json details) {
  AuditEntry e;
  e.at = env.clock->NowMillis();
  e.actor = std::move(actor);
  e.action = std::move(action);
  e.details = std::move(details);
  return txn.AppendAudit(std::move(e));
}

}  // namespace internal



bool IsValidRole(std::string_view role) {
  return role == "social_worker" || role == "personal_adviser" || role == "virtual_school" ||
         role == "manager";
}

bool RoleMayWrite(std::string_view role, std::string_view type) {
  if (role == "manager") {
    return type == "visit_note" || type == "return_home_interview" || type == "pep_update" ||
           type == "pathway_plan";
  }
  if (role == "social_worker") {
    return type == "visit_note" || type == "return_home_interview" || type == "pep_update";
  }
  if (role == "personal_adviser") return type == "pathway_plan" || type == "visit_note";
  if (role == "virtual_school") return type == "pep_update";
  return false;
}

ServerCore::ServerCore(ServerStore* store, Env env) : store_(store), env_(env) {}

Result<IssuedCode> ServerCore::Enroll(std::string_view practitioner, std::string_view role) {
  if (!IsTokenId(practitioner)) return InvalidArgumentError("--practitioner: not a valid id");
  if (!IsValidRole(role)) {
    return InvalidArgumentError("--role: must be social_worker, personal_adviser, "
                                "virtual_school or manager");
  }
  int64_t now = env_.clock->NowMillis();
  IssuedCode issued{NewCode(*env_.random), now + kEnrolmentCodeLifetimeMs};
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_ASSIGN_OR_RETURN(auto existing, txn->GetPractitioner(practitioner));
  DS_RETURN_IF_ERROR(txn->PutPractitioner(
      Practitioner{std::string(practitioner), std::string(role), existing ? existing->created_at : now}));
  EnrolmentCode c;
  c.code_hash = internal::CodeHash(issued.code);
  c.practitioner_id = std::string(practitioner);
  c.role = std::string(role);
  c.created_at = now;
  c.expires_at = issued.expires_at;
  DS_RETURN_IF_ERROR(txn->PutEnrolmentCode(c));
  DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, "admin", "enroll",
                           {{"practitioner", practitioner}, {"role", role},
                            {"code_hash", core::ToHex(c.code_hash).substr(0, 16)}}));
  DS_RETURN_IF_ERROR(txn->Commit());
  return issued;
}

Result<bool> ServerCore::OverWrongCodeLimit(ServerTxn& txn, std::string_view source, int64_t now) {
  DS_ASSIGN_OR_RETURN(uint64_t n, txn.CountWrongCodes(source, now - kMinuteMs + 1));
  return n >= kMaxWrongCodesPerMinute;
}

Result<DeviceInfo> ServerCore::RedeemCode(std::string_view code, std::string_view device_id,
                                          std::string_view public_key, std::string_view source) {
  int64_t now = env_.clock->NowMillis();
  // The budget is kept in the store (wrong_codes), so every server process
  // on it shares it. A read snapshot refuses a flood cheaply, without
  // queueing behind the writers; the exact check is made again inside the
  // write transaction that looks at the code and records a wrong one.
  // Writers are serialised across processes (SQLite BEGIN IMMEDIATE, the
  // PostgreSQL seq row lock), so the count and the new row form one step:
  // concurrent attempts cannot get past the limit together.
  {
    DS_ASSIGN_OR_RETURN(auto rtxn, store_->Begin(TxnMode::kRead));
    DS_ASSIGN_OR_RETURN(bool over, OverWrongCodeLimit(*rtxn, source, now));
    if (over) return ResourceExhaustedError("too many wrong enrolment codes; wait a minute");
  }
  return RedeemChecked(code, device_id, public_key, source, now);
}

Result<DeviceInfo> ServerCore::RedeemChecked(std::string_view code, std::string_view device_id,
                                             std::string_view public_key, std::string_view source,
                                             int64_t now) {
  if (!IsHexId(device_id)) return InvalidArgumentError("device id: not a 32-hex id");
  if (public_key.size() != 32) return InvalidArgumentError("device key: not 32 bytes");
  std::string hash = internal::CodeHash(code);
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_ASSIGN_OR_RETURN(bool over, OverWrongCodeLimit(*txn, source, now));
  if (over) return ResourceExhaustedError("too many wrong enrolment codes; wait a minute");
  DS_ASSIGN_OR_RETURN(std::optional<EnrolmentCode> c, txn->GetEnrolmentCode(hash));
  Status refused;
  if (!c) {
    refused = UnauthenticatedError("unknown enrolment code");
  } else if (c->used_at != 0) {
    refused = FailedPreconditionError("enrolment code already used");
  } else if (now >= c->expires_at) {
    refused = FailedPreconditionError("enrolment code expired");
  }
  if (!refused.ok()) {
    // The slot is taken in the same transaction as the audit entry.
    DS_RETURN_IF_ERROR(txn->NoteWrongCode(source, now, now - kMinuteMs));
    DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, internal::DeviceActor(device_id), "enrol_refused",
                             {{"device", device_id}, {"reason", refused.message()}}));
    DS_RETURN_IF_ERROR(txn->Commit());
    return refused;
  }
  DS_ASSIGN_OR_RETURN(auto by_id, txn->GetDevice(device_id));
  DS_ASSIGN_OR_RETURN(auto by_key, txn->GetDeviceByKey(public_key));
  if (by_id || by_key) return InvalidArgumentError("device already enrolled");
  DeviceInfo d;
  d.device_id = std::string(device_id);
  d.practitioner_id = c->practitioner_id;
  d.role = c->role;
  d.public_key = std::string(public_key);
  d.enrolled_at = now;
  DS_RETURN_IF_ERROR(txn->MarkEnrolmentCodeUsed(hash, device_id, now));
  DS_RETURN_IF_ERROR(txn->PutDevice(d));
  DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, internal::DeviceActor(device_id), "enrol",
                           {{"device", device_id}, {"practitioner", d.practitioner_id},
                            {"role", d.role}}));
  DS_RETURN_IF_ERROR(txn->Commit());
  return d;
}

Status ServerCore::Revoke(std::string_view device_id) {
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_RETURN_IF_ERROR(txn->RevokeDevice(device_id, env_.clock->NowMillis()));
  DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, "admin", "revoke", {{"device", device_id}}));
  return txn->Commit();
}

Status ServerCore::Assign(std::string_view practitioner, std::string_view subject) {
  if (!IsTokenId(practitioner)) return InvalidArgumentError("--practitioner: not a valid id");
  if (!IsTokenId(subject)) return InvalidArgumentError("--subject: not a valid id");
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_ASSIGN_OR_RETURN(auto p, txn->GetPractitioner(practitioner));
  if (!p) return NotFoundError("no practitioner " + std::string(practitioner) + " (enroll first)");
  DS_ASSIGN_OR_RETURN(auto entry, txn->GetCaseloadEntry(practitioner, subject));
  if (entry) return FailedPreconditionError("subject already on that caseload");
  DS_ASSIGN_OR_RETURN(uint64_t seq, txn->NextSeq());
  int64_t now = env_.clock->NowMillis();
  DS_RETURN_IF_ERROR(txn->Assign(
      CaseloadEvent{seq, std::string(practitioner), std::string(subject), "assign", now}));
  DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, "admin", "assign",
                           {{"practitioner", practitioner}, {"subject", subject}, {"seq", seq}}));
  return txn->Commit();
}

Status ServerCore::Unassign(std::string_view practitioner, std::string_view subject) {
  if (!IsTokenId(practitioner)) return InvalidArgumentError("--practitioner: not a valid id");
  if (!IsTokenId(subject)) return InvalidArgumentError("--subject: not a valid id");
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_ASSIGN_OR_RETURN(auto entry, txn->GetCaseloadEntry(practitioner, subject));
  if (!entry) return FailedPreconditionError("subject not on that caseload");
  DS_ASSIGN_OR_RETURN(uint64_t seq, txn->NextSeq());
  int64_t now = env_.clock->NowMillis();
  DS_RETURN_IF_ERROR(txn->Unassign(
      CaseloadEvent{seq, std::string(practitioner), std::string(subject), "unassign", now}));
  DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, "admin", "unassign",
                           {{"practitioner", practitioner}, {"subject", subject}, {"seq", seq}}));
  return txn->Commit();
}

Result<std::vector<DeviceInfo>> ServerCore::Devices() {
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  return txn->ListDevices();
}

Result<std::vector<StoredConflict>> ServerCore::Conflicts(bool open_only) {
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  return txn->ListConflicts(open_only);
}

Result<std::vector<AuditEntry>> ServerCore::Audit() {
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  std::vector<AuditEntry> all;
  uint64_t after = 0;
  while (true) {
    DS_ASSIGN_OR_RETURN(std::vector<AuditEntry> page, txn->ReadAudit(after, 5000));
    if (page.empty()) break;
    after = page.back().id;
    for (auto& e : page) all.push_back(std::move(e));
  }
  return all;
}

Result<uint64_t> ServerCore::VerifyAudit() {
  DS_ASSIGN_OR_RETURN(AuditHead head, VerifyAuditAgainst(std::nullopt));
  return head.id;
}

Result<AuditHead> ServerCore::VerifyAuditAgainst(const std::optional<AuditHead>& anchor) {
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  AuditHead head{0, kAuditGenesisHash};
  while (true) {
    DS_ASSIGN_OR_RETURN(std::vector<AuditEntry> page, txn->ReadAudit(head.id, 5000));
    if (page.empty()) break;
    for (const AuditEntry& e : page) {
      std::string where = "audit entry " + std::to_string(e.id);
      if (e.id != head.id + 1) return DataLossError(where + ": entries missing before it");
      if (e.prev_hash != head.hash) return DataLossError(where + ": does not chain to the one before");
      if (AuditHash(e) != e.hash) return DataLossError(where + ": hash does not match its contents");
      if (anchor && anchor->id == e.id && anchor->hash != e.hash) {
        return DataLossError(where + ": its hash is not the anchor's " + anchor->hash +
                             " (the log was rewritten from here or earlier)");
      }
      head = AuditHead{e.id, e.hash};
    }
  }
  if (anchor && anchor->id > head.id) {
    return DataLossError("the log ends at entry " + std::to_string(head.id) + " but the anchor holds entry " +
                         std::to_string(anchor->id) + ": entries were removed from the end");
  }
  return head;
}

Result<SessionContext> ServerCore::AuthenticatePeer(std::string_view remote_static,
                                                    std::string_view payload,
                                                    std::string_view source) {
  if (remote_static.size() != 32) return UnauthenticatedError("bad static key");
  std::optional<DeviceInfo> d;
  {
    DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
    DS_ASSIGN_OR_RETURN(d, txn->GetDeviceByKey(remote_static));
  }
  if (d) {
    if (d->revoked()) {
      DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
      DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*txn, env_, internal::DeviceActor(d->device_id), "refused",
                               {{"device", d->device_id}, {"reason", "revoked"}}));
      DS_RETURN_IF_ERROR(txn->Commit());
      return PermissionDeniedError("this device is revoked");
    }
    return SessionContext{d->device_id, d->practitioner_id, d->role};
  }
  if (payload.empty()) return UnauthenticatedError("this device is not enrolled");
  DS_ASSIGN_OR_RETURN(EnrolRequest req, DecodeEnrolRequest(payload));
  DS_ASSIGN_OR_RETURN(DeviceInfo nd, RedeemCode(req.code, req.device_id, remote_static, source));
  return SessionContext{nd.device_id, nd.practitioner_id, nd.role};
}

Result<DeviceInfo> ServerCore::CheckDevice(ServerTxn& txn, const SessionContext& ctx) {
  DS_ASSIGN_OR_RETURN(std::optional<DeviceInfo> d, txn.GetDevice(ctx.device_id));
  if (!d) return UnauthenticatedError("this device is not enrolled");
  if (d->revoked()) return PermissionDeniedError("this device is revoked");
  return *d;
}

Result<Welcome> ServerCore::HelloRead(const SessionContext& ctx, const sync::Hello& hello, int64_t now,
                                      bool* touch) {
  if (hello.v != kProtocolVersion) {
    return FailedPreconditionError("unsupported protocol version " + std::to_string(hello.v) +
                                   "; this server supports version " +
                                   std::to_string(kProtocolVersion));
  }
  // Most hellos only read: a device seen in the last minute takes no write
  // lock (pushes of other sessions are not held up by it).
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  DS_ASSIGN_OR_RETURN(DeviceInfo d, CheckDevice(*txn, ctx));
  *touch = internal::SeenLongAgo(d, now);
  return Welcome{kProtocolVersion, d.practitioner_id, d.role, d.device_id, now};
}

Status ServerCore::TouchInTxn(ServerTxn& txn, const SessionContext& ctx, int64_t now) {
  DS_ASSIGN_OR_RETURN(DeviceInfo d, CheckDevice(txn, ctx));
  if (internal::SeenLongAgo(d, now)) DS_RETURN_IF_ERROR(txn.TouchDevice(d.device_id, now));
  return Status::Ok();
}

Result<Welcome> ServerCore::Hello(const SessionContext& ctx, const sync::Hello& hello) {
  int64_t now = env_.clock->NowMillis();
  bool touch = false;
  DS_ASSIGN_OR_RETURN(Welcome w, HelloRead(ctx, hello, now, &touch));
  if (!touch) return w;
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  DS_RETURN_IF_ERROR(TouchInTxn(*txn, ctx, now));
  DS_RETURN_IF_ERROR(txn->Commit());
  return w;
}

}  // namespace doorstep::sync
