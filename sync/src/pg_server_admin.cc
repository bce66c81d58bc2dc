// PostgreSQL ServerStore: practitioners, enrolment codes, devices and
// caseloads. Duplicates are detected with ON CONFLICT DO NOTHING (a failed
// statement would abort the whole PostgreSQL transaction).
#include "pg_server_store_internal.h"

namespace doorstep::sync::internal {

namespace {
PgParam T(std::string_view v) { return PgParam::Text(v); }
PgParam I(int64_t v) { return PgParam::Int(v); }
PgParam B(std::string_view v) { return PgParam::Bytes(v); }
}  // namespace

Status PgServerTxn::PutPractitioner(const Practitioner& p) {
  DS_RETURN_IF_ERROR(RequireWrite());
  return Q("INSERT INTO practitioners(id, role, created_at) VALUES ($1, $2, $3) "
           "ON CONFLICT(id) DO UPDATE SET role = excluded.role",
           {T(p.id), T(p.role), I(p.created_at)})
      .status();
}

Result<std::optional<Practitioner>> PgServerTxn::GetPractitioner(std::string_view id) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT id, role, created_at FROM practitioners WHERE id = $1", {T(id)}));
  if (r.rows() == 0) return std::optional<Practitioner>();
  return std::optional<Practitioner>(Practitioner{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2)});
}

Status PgServerTxn::PutEnrolmentCode(const EnrolmentCode& c) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q("INSERT INTO enrolment_codes(code_hash, practitioner_id, role, created_at, "
                        "expires_at, used_at, used_by) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                        "ON CONFLICT DO NOTHING",
                        {B(c.code_hash), T(c.practitioner_id), T(c.role), I(c.created_at),
                         I(c.expires_at), I(c.used_at), T(c.used_by)}));
  if (r.affected() != 1) return InvalidArgumentError("enrolment code already exists");
  return Status::Ok();
}

Result<std::optional<EnrolmentCode>> PgServerTxn::GetEnrolmentCode(std::string_view code_hash) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT code_hash, practitioner_id, role, created_at, expires_at, "
                                    "used_at, used_by FROM enrolment_codes WHERE code_hash = $1",
                                    {B(code_hash)}));
  if (r.rows() == 0) return std::optional<EnrolmentCode>();
  EnrolmentCode c{r.Bytes(0, 0), r.Text(0, 1), r.Text(0, 2), r.Int(0, 3),
                  r.Int(0, 4),   r.Int(0, 5),  r.Text(0, 6)};
  return std::optional<EnrolmentCode>(std::move(c));
}

Status PgServerTxn::MarkEnrolmentCodeUsed(std::string_view code_hash, std::string_view device_id,
                                          int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  // Single use across processes: the row is updated only while unused, and
  // writers are serialised (Start), so exactly one redeemer sees 1 row.
  DS_ASSIGN_OR_RETURN(PgResult r, Q("UPDATE enrolment_codes SET used_at = $1, used_by = $2 "
                                    "WHERE code_hash = $3 AND used_at = 0",
                                    {I(at), T(device_id), B(code_hash)}));
  if (r.affected() != 1) return FailedPreconditionError("enrolment code already used");
  return Status::Ok();
}

Status PgServerTxn::PutDevice(const DeviceInfo& d) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("INSERT INTO devices(") + kPgDeviceColumns +
                                        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                                    {T(d.device_id), T(d.practitioner_id), T(d.role), B(d.public_key),
                                     I(d.enrolled_at), I(d.revoked_at), I(d.last_seen_at)}));
  if (r.affected() != 1) return InvalidArgumentError("device id or key already enrolled");
  return Status::Ok();
}

DeviceInfo PgServerTxn::ReadDeviceRow(const PgResult& r, int row) {
  DeviceInfo d;
  d.device_id = r.Text(row, 0);
  d.practitioner_id = r.Text(row, 1);
  d.role = r.Text(row, 2);
  d.public_key = r.Bytes(row, 3);
  d.enrolled_at = r.Int(row, 4);
  d.revoked_at = r.Int(row, 5);
  d.last_seen_at = r.Int(row, 6);
  return d;
}

Result<std::optional<DeviceInfo>> PgServerTxn::GetDevice(std::string_view device_id) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("SELECT ") + kPgDeviceColumns +
                                        " FROM devices WHERE device_id = $1",
                                    {T(device_id)}));
  if (r.rows() == 0) return std::optional<DeviceInfo>();
  return std::optional<DeviceInfo>(ReadDeviceRow(r, 0));
}

Result<std::optional<DeviceInfo>> PgServerTxn::GetDeviceByKey(std::string_view public_key) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("SELECT ") + kPgDeviceColumns +
                                        " FROM devices WHERE public_key = $1",
                                    {B(public_key)}));
  if (r.rows() == 0) return std::optional<DeviceInfo>();
  return std::optional<DeviceInfo>(ReadDeviceRow(r, 0));
}

Result<std::vector<DeviceInfo>> PgServerTxn::ListDevices() {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("SELECT ") + kPgDeviceColumns +
                                    " FROM devices ORDER BY enrolled_at, device_id COLLATE \"C\""));
  std::vector<DeviceInfo> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(ReadDeviceRow(r, i));
  return out;
}

Status PgServerTxn::RevokeDevice(std::string_view device_id, int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(std::optional<DeviceInfo> d, GetDevice(device_id));
  if (!d) return NotFoundError("no device " + std::string(device_id));
  if (d->revoked()) return Status::Ok();
  return Q("UPDATE devices SET revoked_at = $1 WHERE device_id = $2", {I(at), T(device_id)}).status();
}

Status PgServerTxn::TouchDevice(std::string_view device_id, int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  return Q("UPDATE devices SET last_seen_at = $1 WHERE device_id = $2", {I(at), T(device_id)}).status();
}

namespace {
constexpr char kInsertEvent[] =
    "INSERT INTO caseload_events(seq, practitioner_id, subject_id, kind, at) "
    "VALUES ($1, $2, $3, $4, $5)";
std::vector<PgParam> EventParams(const CaseloadEvent& e, const char* kind) {
  return {I(static_cast<int64_t>(e.seq)), T(e.practitioner_id), T(e.subject_id), T(kind), I(e.at)};
}
}  // namespace

Status PgServerTxn::Assign(const CaseloadEvent& e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(PgResult r, Q("INSERT INTO caseload(practitioner_id, subject_id, assigned_seq, "
                                    "assigned_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                    {T(e.practitioner_id), T(e.subject_id),
                                     I(static_cast<int64_t>(e.seq)), I(e.at)}));
  if (r.affected() != 1) return InvalidArgumentError("subject already on that caseload");
  return Q(kInsertEvent, EventParams(e, "assign")).status();
}

Status PgServerTxn::Unassign(const CaseloadEvent& e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(PgResult r, Q("DELETE FROM caseload WHERE practitioner_id = $1 AND subject_id = $2",
                                    {T(e.practitioner_id), T(e.subject_id)}));
  if (r.affected() != 1) return NotFoundError("subject not on that caseload");
  return Q(kInsertEvent, EventParams(e, "unassign")).status();
}

Result<std::optional<CaseloadEntry>> PgServerTxn::GetCaseloadEntry(std::string_view practitioner,
                                                                   std::string_view subject) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT assigned_seq, assigned_at FROM caseload "
                                    "WHERE practitioner_id = $1 AND subject_id = $2",
                                    {T(practitioner), T(subject)}));
  if (r.rows() == 0) return std::optional<CaseloadEntry>();
  return std::optional<CaseloadEntry>(CaseloadEntry{std::string(practitioner), std::string(subject),
                                                    static_cast<uint64_t>(r.Int(0, 0)), r.Int(0, 1)});
}

Result<std::vector<CaseloadEntry>> PgServerTxn::ListCaseload(std::string_view practitioner) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT subject_id, assigned_seq, assigned_at FROM caseload "
                                    "WHERE practitioner_id = $1 ORDER BY assigned_seq",
                                    {T(practitioner)}));
  std::vector<CaseloadEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(CaseloadEntry{std::string(practitioner), r.Text(i, 0),
                                static_cast<uint64_t>(r.Int(i, 1)), r.Int(i, 2)});
  }
  return out;
}

Result<std::vector<CaseloadEvent>> PgServerTxn::CaseloadEvents(std::string_view practitioner,
                                                              uint64_t after, uint64_t upto) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT seq, subject_id, kind, at FROM caseload_events "
                                    "WHERE practitioner_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                                    {T(practitioner), I(PgSeqArg(after)), I(PgSeqArg(upto))}));
  std::vector<CaseloadEvent> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(CaseloadEvent{static_cast<uint64_t>(r.Int(i, 0)), std::string(practitioner),
                                r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)});
  }
  return out;
}

Result<std::optional<CaseloadEvent>> PgServerTxn::LastUnassign(std::string_view practitioner,
                                                              std::string_view subject) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT seq, at FROM caseload_events WHERE practitioner_id = $1 "
                                    "AND subject_id = $2 AND kind = 'unassign' ORDER BY seq DESC LIMIT 1",
                                    {T(practitioner), T(subject)}));
  if (r.rows() == 0) return std::optional<CaseloadEvent>();
  return std::optional<CaseloadEvent>(CaseloadEvent{static_cast<uint64_t>(r.Int(0, 0)),
                                                    std::string(practitioner), std::string(subject),
                                                    "unassign", r.Int(0, 1)});
}

Status PgServerTxn::NoteWrongCode(std::string_view source, int64_t at, int64_t forget_before) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_RETURN_IF_ERROR(Q("DELETE FROM wrong_codes WHERE at < $1", {I(forget_before)}).status());
  return Q("INSERT INTO wrong_codes(source, at) VALUES ($1, $2)", {T(source), I(at)}).status();
}

Result<uint64_t> PgServerTxn::CountWrongCodes(std::string_view source, int64_t since) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT COUNT(*) FROM wrong_codes WHERE source = $1 AND at >= $2",
                                    {T(source), I(since)}));
  return r.rows() ? static_cast<uint64_t>(r.Int(0, 0)) : 0;
}

}  // namespace doorstep::sync::internal
