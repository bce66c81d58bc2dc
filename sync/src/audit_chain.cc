// AuditCanonicalBytes and AuditHash (server_store.h), and ChainAuditEntry.
//
// The canonical bytes are the compact dump of the json object {id, at, actor,
// action, details} (keys sorted: action, actor, at, details, id). They are
// written here piece by piece rather than by building that object, which
// deep-copied the details and dumped them a second time for every entry (one
// per pushed mutation, on the group committer's thread). The bytes are the
// same (tests/sync/audit_chain_test.cc compares them with the json object's
// dump), so existing chains verify.
#include "audit_chain_internal.h"

#include "doorstep/core/crypto.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace {

std::string DumpCompact(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string CanonicalBytes(const AuditEntry& e, const std::string& details) {
  std::string out;
  out.reserve(48 + e.actor.size() + e.action.size() + details.size());
  out += "{\"action\":";
  out += DumpCompact(json(e.action));
  out += ",\"actor\":";
  out += DumpCompact(json(e.actor));
  out += ",\"at\":";
  out += std::to_string(e.at);
  out += ",\"details\":";
  out += details;
  out += ",\"id\":";
  out += std::to_string(e.id);
  out += '}';
  return out;
}

std::string HashOf(const AuditEntry& e, const std::string& details) {
  auto prev = core::FromHex(e.prev_hash);
  std::string input = prev.ok() ? *prev : e.prev_hash;
  input += CanonicalBytes(e, details);
  return core::ToHex(core::Blake2b256(input));
}

}  // namespace

std::string AuditCanonicalBytes(const AuditEntry& e) { return CanonicalBytes(e, DumpCompact(e.details)); }

std::string AuditHash(const AuditEntry& e) { return HashOf(e, DumpCompact(e.details)); }

namespace internal {

std::string ChainAuditEntry(AuditEntry* e) {
  std::string details = DumpCompact(e->details);
  e->hash = HashOf(*e, details);
  return details;
}

}  // namespace internal
}  // namespace doorstep::sync
