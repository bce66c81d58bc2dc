#include "client_convert.h"

namespace doorstep::sync {

Mutation ToWireMutation(core::OutgoingMutation& m) {
  Mutation w;
  const core::Record& r = m.record;
  w.mutation_id = m.mutation_id;
  w.record_id = r.id;
  w.type = r.type;
  w.subject_id = r.subject_id;
  w.base_rev = m.base_rev;
  w.kind = m.kind == "resolve" ? MutationKind::kResolve : MutationKind::kPut;
  for (auto it = m.changes.begin(); it != m.changes.end(); ++it) {
    nlohmann::json& c = it.value();
    FieldChange& f = w.changes[it.key()];
    if (c.is_object()) {
      if (auto from = c.find("from"); from != c.end()) f.from = std::move(*from);
      if (auto to = c.find("to"); to != c.end()) f.to = std::move(*to);
    }
  }
  w.status = r.status;
  w.amends = r.amends;
  w.flags = r.flags;
  w.schema_version = r.schema_version;
  w.hlc = r.hlc;
  w.created_at = r.created_at;
  w.updated_at = r.updated_at;
  w.author_id = r.author_id;
  w.device_id = r.device_id;
  if (w.kind == MutationKind::kResolve && m.resolve.is_object()) {
    w.conflict_id = m.resolve.value("conflict_id", "");
    w.path = m.resolve.value("path", "");
    w.value = m.resolve.contains("value") ? std::move(m.resolve["value"]) : nlohmann::json();
  }
  return w;
}

core::Record ToCoreRecord(PulledRecord&& p) {
  core::Record r;
  r.id = std::move(p.id);
  r.type = std::move(p.type);
  r.subject_id = std::move(p.subject_id);
  r.rev = p.rev;
  r.status = std::move(p.status);
  r.flags = std::move(p.flags);
  r.amends = p.amends;
  r.deleted = p.deleted;
  r.author_id = std::move(p.author_id);
  r.device_id = std::move(p.device_id);
  r.schema_version = static_cast<int>(p.schema_version);
  r.hlc = std::move(p.hlc);
  r.created_at = p.created_at;
  r.updated_at = p.updated_at;
  r.server_received_at = p.server_received_at;
  r.base_rev = p.base_rev;
  if (p.fields.is_object()) r.fields = std::move(p.fields);
  return r;
}

core::PulledConflict ToCoreConflict(const ConflictInfo& c) {
  core::PulledConflict out;
  out.conflict_id = c.conflict_id;
  out.record_id = c.record_id;
  out.subject_id = c.subject_id;
  out.state = c.state == ConflictState::kOpen ? "open" : "resolved";
  out.body = {{"type", c.type},
              {"path", c.path},
              {"base", c.base},
              {"server", c.server},
              {"device", c.device},
              {"server_author", c.server_author},
              {"device_author", c.device_author},
              {"server_time", c.server_time},
              {"device_time", c.device_time},
              {"base_rev", c.base_rev},
              {"resolution", c.resolution}};
  return out;
}

Status StatusFromWireError(const Error& e) {
  if (e.code == kErrRevoked) return PermissionDeniedError("revoked: " + e.message);
  if (e.code == kErrNotEnrolled) return PermissionDeniedError("not enrolled: " + e.message);
  if (e.code == "enrolment_refused") return PermissionDeniedError("enrolment refused: " + e.message);
  if (e.code == "rate_limited") return UnavailableError("rate limited: " + e.message);
  if (e.code == kErrUnsupportedVersion) return FailedPreconditionError("unsupported protocol version: " + e.message);
  if (e.code == kErrUnavailable) return UnavailableError("server unavailable: " + e.message);
  if (e.code == kErrBadMessage) return InvalidArgumentError("server refused a message: " + e.message);
  return InternalError("server error " + e.code + ": " + e.message);
}

}  // namespace doorstep::sync
