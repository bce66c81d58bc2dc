// Store: writing and reading records. Each write — the record's new version,
// its pending sync mutation and its audit entry — commits in one transaction.
#include <algorithm>
#include <set>

#include "doorstep/core/schema.h"
#include "doorstep/core/store.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

Status CheckStatusValue(std::string_view status) {
  if (status != "draft" && status != "final") {
    return InvalidArgumentError("status must be 'draft' or 'final', not '" + std::string(status) + "'");
  }
  return Status::Ok();
}

std::string NewId(Random& random) {
  std::string b(16, '\0');
  random.Fill(b.data(), b.size());
  return ToHex(b);
}

}  // namespace

Result<std::string> Store::Impl::NextHlc() {
  if (!hlc_) {
    // Recover the last stamp issued here so clocks never run backwards
    // across restarts, even if the wall clock did.
    HlcStamp last;
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_, "SELECT max(hlc) FROM records"));
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && !st.ColumnIsNull(0)) {
      auto decoded = HlcStamp::Decode(st.ColumnText(0));
      if (decoded.ok()) last = *decoded;
    }
    hlc_.emplace(env_.clock, device_id, last);
  }
  return hlc_->Now().Encode();
}

Result<Record> Store::Impl::ReadVersion(std::string_view id, int64_t local_version) {
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_,
      "SELECT type, body FROM records WHERE id=?1 AND local_version=?2 "
      "UNION ALL SELECT r.type, h.body FROM history h JOIN records r ON r.id = h.record_id "
      "WHERE h.record_id=?1 AND h.local_version=?2"));
  st.Bind(1, id).Bind(2, local_version);
  DS_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFoundError("record " + std::string(id) + " has no version " + std::to_string(local_version));
  std::string type = st.ColumnText(0);
  DS_ASSIGN_OR_RETURN(std::string plain, Open(st.ColumnBlob(1), RecordAd(id, type, local_version)));
  auto j = nlohmann::json::parse(plain, nullptr, false);
  std::fill(plain.begin(), plain.end(), '\0');
  DS_ASSIGN_OR_RETURN(Record r, RecordFromJson(j));
  if (r.id != id || r.type != type || r.local_version != local_version) {
    return DataLossError("record " + std::string(id) + " does not match its row");
  }
  return r;
}

Result<Record> Store::Impl::ReadCurrent(std::string_view id) {
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_, "SELECT local_version FROM records WHERE id=?"));
  st.Bind(1, id);
  DS_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFoundError("no record " + std::string(id));
  return ReadVersion(id, st.ColumnInt(0));
}

Status Store::Impl::WriteVersion(const Record& r, bool existed, std::string_view origin) {
  nlohmann::json body = RecordToJson(r);
  body["origin"] = origin;
  std::string plain = body.dump();
  DS_ASSIGN_OR_RETURN(std::string sealed, Seal(plain, RecordAd(r.id, r.type, r.local_version)));
  std::fill(plain.begin(), plain.end(), '\0');
  if (existed) {
    // Move the current body into history; it stays sealed under its own AD.
    DS_ASSIGN_OR_RETURN(Statement mv, Statement::Prepare(*db_,
        "INSERT INTO history(record_id, local_version, body) "
        "SELECT id, local_version, body FROM records WHERE id=?"));
    mv.Bind(1, r.id);
    DS_RETURN_IF_ERROR(mv.Run());
    DS_ASSIGN_OR_RETURN(Statement up, Statement::Prepare(*db_,
        "UPDATE records SET local_version=?, rev=?, hlc=?, subject_id=?, body=? WHERE id=?"));
    up.Bind(1, r.local_version).Bind(2, r.rev).Bind(3, r.hlc).Bind(4, r.subject_id).BindBlob(5, sealed).Bind(6, r.id);
    return up.Run();
  }
  DS_ASSIGN_OR_RETURN(Statement ins, Statement::Prepare(*db_,
      "INSERT INTO records(id, type, subject_id, local_version, rev, hlc, body) VALUES(?,?,?,?,?,?,?)"));
  ins.Bind(1, r.id).Bind(2, r.type).Bind(3, r.subject_id).Bind(4, r.local_version).Bind(5, r.rev)
      .Bind(6, r.hlc).BindBlob(7, sealed);
  return ins.Run();
}

Status Store::Impl::Audit(std::string_view action, std::string_view record_id, const nlohmann::json& detail) {
  int64_t now = env_.clock->NowMillis();
  // The audit row's AD binds it to its action, record and time.
  std::string ad = "ds1|audit|" + std::string(action) + "|" + std::string(record_id) + "|" + std::to_string(now);
  DS_ASSIGN_OR_RETURN(std::string sealed, Seal(detail.dump(), ad));
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_,
      "INSERT INTO audit(at_ms, action, record_id, detail) VALUES(?,?,?,?)"));
  st.Bind(1, now).Bind(2, action).Bind(3, record_id).BindBlob(4, sealed);
  return st.Run();
}

namespace {

// Validates `r` and sets its flags; pep_update's duplicate_term needs the
// subject's other PEP updates.
Result<ValidationResult> CheckRecord(Store::Impl& impl, Record& r) {
  const RecordSchema* schema = SchemaRegistry::Default().Find(r.type);
  if (schema == nullptr) return InvalidArgumentError("unknown record type '" + r.type + "'");
  r.schema_version = schema->schema_version();
  ValidationResult v = Validate(*schema, r.fields, r.status, ValidationContext{impl.env().clock->NowMillis()});
  if (r.type == "pep_update") {
    if (auto key = PepTermKey(r.fields)) {
      DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
          "SELECT id FROM records WHERE subject_id=? AND type='pep_update' AND id<>?"));
      st.Bind(1, r.subject_id).Bind(2, r.id);
      while (true) {
        DS_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        DS_ASSIGN_OR_RETURN(Record other, impl.ReadCurrent(st.ColumnText(0)));
        if (PepTermKey(other.fields) == key) {
          v.flags.push_back(kFlagDuplicateTerm);
          break;
        }
      }
    }
  }
  std::sort(v.flags.begin(), v.flags.end());
  v.flags.erase(std::unique(v.flags.begin(), v.flags.end()), v.flags.end());
  r.flags = v.flags;
  return v;
}

Status AddPending(Store::Impl& impl, const std::string& record_id, std::string_view kind,
                  int64_t from_version, int64_t to_version, const nlohmann::json& detail) {
  std::string mid(16, '\0');
  impl.env().random->Fill(mid.data(), mid.size());
  std::string mutation_id = ToHex(mid);
  std::string sealed;
  if (!detail.is_null()) {
    DS_ASSIGN_OR_RETURN(sealed, impl.Seal(detail.dump(), "ds1|pending|" + mutation_id));
  }
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
      "INSERT INTO pending(mutation_id, record_id, kind, from_version, to_version, state, detail) "
      "VALUES(?,?,?,?,?,'pending',?)"));
  st.Bind(1, mutation_id).Bind(2, record_id).Bind(3, kind).Bind(4, from_version).Bind(5, to_version);
  if (sealed.empty()) st.BindNull(6); else st.BindBlob(6, sealed);
  return st.Run();
}

}  // namespace

Result<WriteOutcome> Store::Add(std::string_view type, std::string_view subject_id,
                                const nlohmann::json& fields, std::string_view status) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  DS_RETURN_IF_ERROR(CheckStatusValue(status));
  if (!IsOpaqueId(subject_id)) {
    return InvalidArgumentError("subject id must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (!fields.is_object()) return InvalidArgumentError("fields must be a JSON object");
  Record r;
  r.id = NewId(*impl_->env().random);
  r.type = std::string(type);
  r.subject_id = std::string(subject_id);
  r.status = std::string(status);
  r.fields = fields;
  r.author_id = impl_->author_id;
  r.device_id = device_id_;
  r.local_version = 1;
  int64_t now = impl_->env().clock->NowMillis();
  r.created_at = now;
  r.updated_at = now;
  WriteOutcome out;
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl_->db()));
  DS_ASSIGN_OR_RETURN(ValidationResult v, CheckRecord(*impl_, r));
  out.flags = v.flags;
  if (!v.ok()) {
    out.problems = std::move(v.problems);
    return out;
  }
  DS_ASSIGN_OR_RETURN(r.hlc, impl_->NextHlc());
  DS_RETURN_IF_ERROR(impl_->WriteVersion(r, false, "local"));
  DS_RETURN_IF_ERROR(AddPending(*impl_, r.id, "put", 0, 1, nullptr));
  DS_RETURN_IF_ERROR(impl_->Audit("add", r.id, {{"type", r.type}, {"status", r.status}, {"version", 1}}));
  DS_RETURN_IF_ERROR(txn.Commit());
  out.record = std::move(r);
  return out;
}

Result<WriteOutcome> Store::Edit(std::string_view id, const nlohmann::json& changes,
                                 std::optional<std::string> status) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  if (!changes.is_object()) return InvalidArgumentError("changes must be a JSON object");
  if (status) DS_RETURN_IF_ERROR(CheckStatusValue(*status));
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl_->db()));
  DS_ASSIGN_OR_RETURN(Record r, impl_->ReadCurrent(id));
  bool was_final = r.status == "final";
  if (was_final && status && *status == "draft") {
    return InvalidArgumentError("status: a final record cannot go back to draft; edit it to amend it");
  }
  int64_t from_version = r.local_version;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    if (it->is_null()) {
      r.fields.erase(it.key());
    } else {
      r.fields[it.key()] = *it;
    }
  }
  if (status) r.status = *status;
  if (was_final) r.amends = r.rev > 0 ? r.rev : from_version;  // an amendment, never an overwrite
  r.base_rev = r.rev;
  r.local_version = from_version + 1;
  r.author_id = impl_->author_id;
  r.device_id = device_id_;
  r.updated_at = impl_->env().clock->NowMillis();
  WriteOutcome out;
  DS_ASSIGN_OR_RETURN(ValidationResult v, CheckRecord(*impl_, r));
  out.flags = v.flags;
  if (!v.ok()) {
    out.problems = std::move(v.problems);
    return out;
  }
  DS_ASSIGN_OR_RETURN(r.hlc, impl_->NextHlc());
  DS_RETURN_IF_ERROR(impl_->WriteVersion(r, true, "local"));
  DS_RETURN_IF_ERROR(AddPending(*impl_, r.id, "put", from_version, r.local_version, nullptr));
  DS_RETURN_IF_ERROR(impl_->Audit(was_final ? "amend" : "edit", r.id,
                                  {{"status", r.status}, {"version", r.local_version},
                                   {"fields_changed", changes.size()}}));
  DS_RETURN_IF_ERROR(txn.Commit());
  out.record = std::move(r);
  return out;
}

Result<Record> Store::Get(std::string_view id) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  if (!IsRecordId(id)) return NotFoundError("no record " + std::string(id) + " (ids are 32 hex characters)");
  return impl_->ReadCurrent(id);
}

Result<std::vector<Record>> Store::List(const ListFilter& filter) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl_->db(),
      "SELECT id, local_version FROM records WHERE (?1 IS NULL OR subject_id=?1) "
      "AND (?2 IS NULL OR type=?2) ORDER BY subject_id, hlc"));
  if (filter.subject_id) st.Bind(1, *filter.subject_id); else st.BindNull(1);
  if (filter.type) st.Bind(2, *filter.type); else st.BindNull(2);
  std::vector<Record> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DS_ASSIGN_OR_RETURN(Record r, impl_->ReadVersion(st.ColumnText(0), st.ColumnInt(1)));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<HistoryEntry>> Store::History(std::string_view id) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  DS_ASSIGN_OR_RETURN(Record current, Get(id));
  std::vector<HistoryEntry> out;
  for (int64_t v = 1; v <= current.local_version; ++v) {
    auto r = impl_->ReadVersion(id, v);
    if (r.status().code() == StatusCode::kNotFound) continue;  // purged history
    if (!r.ok()) return r.status();
    HistoryEntry e;
    e.local_version = r->local_version;
    e.rev = r->rev;
    e.hlc = r->hlc;
    e.updated_at = r->updated_at;
    e.author_id = r->author_id;
    e.device_id = r->device_id;
    e.status = r->status;
    e.origin = r->device_id == device_id_ && r->server_received_at == 0 ? "local" : "server";
    e.fields = std::move(r->fields);
    out.push_back(std::move(e));
  }
  return out;
}

Result<StoreStatus> Store::GetStatus() {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  StoreStatus s;
  s.device_id = device_id_;
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl_->db(),
      "SELECT (SELECT count(*) FROM pending WHERE state='pending'),"
      " (SELECT count(*) FROM pending WHERE state='rejected'),"
      " (SELECT count(*) FROM conflicts WHERE state='open'),"
      " (SELECT count(*) FROM records)"));
  DS_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    s.pending = st.ColumnInt(0);
    s.rejected = st.ColumnInt(1);
    s.open_conflicts = st.ColumnInt(2);
    s.records = st.ColumnInt(3);
  }
  DS_ASSIGN_OR_RETURN(s.last_sync_at, impl_->GetMetaInt("last_sync_at", 0));
  DS_ASSIGN_OR_RETURN(s.checkpoint, impl_->GetMetaInt("checkpoint", 0));
  DS_ASSIGN_OR_RETURN(s.enrollment, GetEnrollment());
  DS_ASSIGN_OR_RETURN(Statement rj, Statement::Prepare(impl_->db(),
      "SELECT mutation_id, record_id, detail FROM pending WHERE state='rejected' ORDER BY seq"));
  while (true) {
    DS_ASSIGN_OR_RETURN(bool more, rj.Step());
    if (!more) break;
    nlohmann::json d = {{"mutation_id", rj.ColumnText(0)}, {"record_id", rj.ColumnText(1)}};
    if (!rj.ColumnIsNull(2)) {
      DS_ASSIGN_OR_RETURN(std::string plain, impl_->Open(rj.ColumnBlob(2), "ds1|pending|" + rj.ColumnText(0)));
      auto j = nlohmann::json::parse(plain, nullptr, false);
      if (j.is_object() && j.contains("reason")) d["reason"] = j["reason"];
    }
    s.rejected_details.push_back(std::move(d));
  }
  return s;
}

}  // namespace doorstep::core
