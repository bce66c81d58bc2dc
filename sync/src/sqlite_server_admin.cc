// SQLite ServerStore: practitioners, enrolment codes, devices and caseloads.
#include "sqlite_server_store_internal.h"

namespace doorstep::sync::internal {

Status SqliteServerTxn::PutPractitioner(const Practitioner& p) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO practitioners(id, role, created_at) VALUES (?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET role = excluded.role"));
  StmtRef r(s);
  r->Bind(1, p.id).Bind(2, p.role).Bind(3, p.created_at);
  return r->Run();
}

Result<std::optional<Practitioner>> SqliteServerTxn::GetPractitioner(std::string_view id) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT id, role, created_at FROM practitioners WHERE id = ?"));
  StmtRef r(s);
  r->Bind(1, id);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<Practitioner>();
  return std::optional<Practitioner>(Practitioner{r->ColumnText(0), r->ColumnText(1), r->ColumnInt(2)});
}

Status SqliteServerTxn::PutEnrolmentCode(const EnrolmentCode& c) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO enrolment_codes(code_hash, practitioner_id, role, "
                           "created_at, expires_at, used_at, used_by) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  StmtRef r(s);
  r->BindBlob(1, c.code_hash).Bind(2, c.practitioner_id).Bind(3, c.role).Bind(4, c.created_at);
  r->Bind(5, c.expires_at).Bind(6, c.used_at).Bind(7, c.used_by);
  return r->Run();
}

Result<std::optional<EnrolmentCode>> SqliteServerTxn::GetEnrolmentCode(std::string_view code_hash) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT code_hash, practitioner_id, role, created_at, expires_at, "
                           "used_at, used_by FROM enrolment_codes WHERE code_hash = ?"));
  StmtRef r(s);
  r->BindBlob(1, code_hash);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<EnrolmentCode>();
  EnrolmentCode c{r->ColumnBlob(0), r->ColumnText(1), r->ColumnText(2), r->ColumnInt(3),
                  r->ColumnInt(4),  r->ColumnInt(5),  r->ColumnText(6)};
  return std::optional<EnrolmentCode>(std::move(c));
}

Status SqliteServerTxn::MarkEnrolmentCodeUsed(std::string_view code_hash,
                                              std::string_view device_id, int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("UPDATE enrolment_codes SET used_at = ?, used_by = ? "
                           "WHERE code_hash = ? AND used_at = 0"));
  StmtRef r(s);
  r->Bind(1, at).Bind(2, device_id).BindBlob(3, code_hash);
  DS_RETURN_IF_ERROR(r->Run());
  if (shared_->db->Changes() != 1) return FailedPreconditionError("enrolment code already used");
  return Status::Ok();
}

Status SqliteServerTxn::PutDevice(const DeviceInfo& d) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string("INSERT INTO devices(") + kDeviceColumns +
                           ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
  StmtRef r(s);
  r->Bind(1, d.device_id).Bind(2, d.practitioner_id).Bind(3, d.role).BindBlob(4, d.public_key);
  r->Bind(5, d.enrolled_at).Bind(6, d.revoked_at).Bind(7, d.last_seen_at);
  return r->Run();  // a duplicate id or key is a constraint error: kInvalidArgument
}

Result<DeviceInfo> SqliteServerTxn::ReadDeviceRow(core::Statement& s) {
  DeviceInfo d;
  d.device_id = s.ColumnText(0);
  d.practitioner_id = s.ColumnText(1);
  d.role = s.ColumnText(2);
  d.public_key = s.ColumnBlob(3);
  d.enrolled_at = s.ColumnInt(4);
  d.revoked_at = s.ColumnInt(5);
  d.last_seen_at = s.ColumnInt(6);
  return d;
}

Result<std::optional<DeviceInfo>> SqliteServerTxn::GetDevice(std::string_view device_id) {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(std::string("SELECT ") + kDeviceColumns +
                                               " FROM devices WHERE device_id = ?"));
  StmtRef r(s);
  r->Bind(1, device_id);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<DeviceInfo>();
  DS_ASSIGN_OR_RETURN(DeviceInfo d, ReadDeviceRow(*r));
  return std::optional<DeviceInfo>(std::move(d));
}

Result<std::optional<DeviceInfo>> SqliteServerTxn::GetDeviceByKey(std::string_view public_key) {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(std::string("SELECT ") + kDeviceColumns +
                                               " FROM devices WHERE public_key = ?"));
  StmtRef r(s);
  r->BindBlob(1, public_key);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<DeviceInfo>();
  DS_ASSIGN_OR_RETURN(DeviceInfo d, ReadDeviceRow(*r));
  return std::optional<DeviceInfo>(std::move(d));
}

Result<std::vector<DeviceInfo>> SqliteServerTxn::ListDevices() {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(std::string("SELECT ") + kDeviceColumns +
                                               " FROM devices ORDER BY enrolled_at, device_id"));
  StmtRef r(s);
  std::vector<DeviceInfo> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    if (!row) break;
    DS_ASSIGN_OR_RETURN(DeviceInfo d, ReadDeviceRow(*r));
    out.push_back(std::move(d));
  }
  return out;
}

Status SqliteServerTxn::RevokeDevice(std::string_view device_id, int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(std::optional<DeviceInfo> d, GetDevice(device_id));
  if (!d) return NotFoundError("no device " + std::string(device_id));
  if (d->revoked()) return Status::Ok();
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("UPDATE devices SET revoked_at = ? WHERE device_id = ?"));
  StmtRef r(s);
  r->Bind(1, at).Bind(2, device_id);
  return r->Run();
}

Status SqliteServerTxn::TouchDevice(std::string_view device_id, int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("UPDATE devices SET last_seen_at = ? WHERE device_id = ?"));
  StmtRef r(s);
  r->Bind(1, at).Bind(2, device_id);
  return r->Run();
}

namespace {
Status InsertEvent(core::Statement& s, const CaseloadEvent& e, const char* kind) {
  s.Bind(1, static_cast<int64_t>(e.seq)).Bind(2, e.practitioner_id).Bind(3, e.subject_id);
  s.Bind(4, std::string_view(kind)).Bind(5, e.at);
  return s.Run();
}
constexpr char kInsertEvent[] =
    "INSERT INTO caseload_events(seq, practitioner_id, subject_id, kind, at) VALUES (?, ?, ?, ?, ?)";
}  // namespace

Status SqliteServerTxn::Assign(const CaseloadEvent& e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  {
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt("INSERT INTO caseload(practitioner_id, subject_id, assigned_seq, "
                             "assigned_at) VALUES (?, ?, ?, ?)"));
    StmtRef r(s);
    r->Bind(1, e.practitioner_id).Bind(2, e.subject_id).Bind(3, static_cast<int64_t>(e.seq));
    r->Bind(4, e.at);
    DS_RETURN_IF_ERROR(r->Run());
  }
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(kInsertEvent));
  StmtRef r(s);
  return InsertEvent(*r, e, "assign");
}

Status SqliteServerTxn::Unassign(const CaseloadEvent& e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  {
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt("DELETE FROM caseload WHERE practitioner_id = ? AND subject_id = ?"));
    StmtRef r(s);
    r->Bind(1, e.practitioner_id).Bind(2, e.subject_id);
    DS_RETURN_IF_ERROR(r->Run());
    if (shared_->db->Changes() != 1) return NotFoundError("subject not on that caseload");
  }
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(kInsertEvent));
  StmtRef r(s);
  return InsertEvent(*r, e, "unassign");
}

Result<std::optional<CaseloadEntry>> SqliteServerTxn::GetCaseloadEntry(std::string_view practitioner,
                                                                       std::string_view subject) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT assigned_seq, assigned_at FROM caseload "
                           "WHERE practitioner_id = ? AND subject_id = ?"));
  StmtRef r(s);
  r->Bind(1, practitioner).Bind(2, subject);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<CaseloadEntry>();
  return std::optional<CaseloadEntry>(CaseloadEntry{std::string(practitioner), std::string(subject),
                                                    static_cast<uint64_t>(r->ColumnInt(0)),
                                                    r->ColumnInt(1)});
}

Result<std::vector<CaseloadEntry>> SqliteServerTxn::ListCaseload(std::string_view practitioner) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT subject_id, assigned_seq, assigned_at FROM caseload "
                           "WHERE practitioner_id = ? ORDER BY assigned_seq"));
  StmtRef r(s);
  r->Bind(1, practitioner);
  std::vector<CaseloadEntry> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    if (!row) break;
    out.push_back(CaseloadEntry{std::string(practitioner), r->ColumnText(0),
                                static_cast<uint64_t>(r->ColumnInt(1)), r->ColumnInt(2)});
  }
  return out;
}

Result<std::vector<CaseloadEvent>> SqliteServerTxn::CaseloadEvents(std::string_view practitioner,
                                                                  uint64_t after, uint64_t upto) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT seq, subject_id, kind, at FROM caseload_events "
                           "WHERE practitioner_id = ? AND seq > ? AND seq <= ? ORDER BY seq"));
  StmtRef r(s);
  r->Bind(1, practitioner).Bind(2, static_cast<int64_t>(after)).Bind(3, static_cast<int64_t>(upto));
  std::vector<CaseloadEvent> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    if (!row) break;
    out.push_back(CaseloadEvent{static_cast<uint64_t>(r->ColumnInt(0)), std::string(practitioner),
                                r->ColumnText(1), r->ColumnText(2), r->ColumnInt(3)});
  }
  return out;
}

Result<std::optional<CaseloadEvent>> SqliteServerTxn::LastUnassign(std::string_view practitioner,
                                                                  std::string_view subject) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT seq, at FROM caseload_events WHERE practitioner_id = ? AND "
                           "subject_id = ? AND kind = 'unassign' ORDER BY seq DESC LIMIT 1"));
  StmtRef r(s);
  r->Bind(1, practitioner).Bind(2, subject);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<CaseloadEvent>();
  return std::optional<CaseloadEvent>(CaseloadEvent{static_cast<uint64_t>(r->ColumnInt(0)),
                                                    std::string(practitioner), std::string(subject),
                                                    "unassign", r->ColumnInt(1)});
}

Status SqliteServerTxn::NoteWrongCode(std::string_view source, int64_t at, int64_t forget_before) {
  DS_RETURN_IF_ERROR(RequireWrite());
  {
    DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt("DELETE FROM wrong_codes WHERE at < ?"));
    StmtRef r(s);
    r->Bind(1, forget_before);
    DS_RETURN_IF_ERROR(r->Run());
  }
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt("INSERT INTO wrong_codes(source, at) VALUES (?, ?)"));
  StmtRef r(s);
  r->Bind(1, source).Bind(2, at);
  return r->Run();
}

Result<uint64_t> SqliteServerTxn::CountWrongCodes(std::string_view source, int64_t since) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT COUNT(*) FROM wrong_codes WHERE source = ? AND at >= ?"));
  StmtRef r(s);
  r->Bind(1, source).Bind(2, since);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  return row ? static_cast<uint64_t>(r->ColumnInt(0)) : 0;
}

}  // namespace doorstep::sync::internal
