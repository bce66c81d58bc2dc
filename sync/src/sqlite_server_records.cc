// SQLite ServerStore: records and revisions (sealed), mutation outcomes and
// conflicts (sealed values).
#include "cbor_internal.h"
#include "protocol_internal.h"
#include "record_write_internal.h"
#include "sqlite_server_store_internal.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

namespace {

// Sequence bounds as SQLite integers (values past INT64_MAX mean "all").
int64_t SeqArg(uint64_t v) { return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v); }

std::string RevisionAd(std::string_view id, std::string_view type, int64_t rev) {
  return std::string(id) + "|" + std::string(type) + "|" + std::to_string(rev);
}
std::string ConflictAd(std::string_view conflict_id, std::string_view record_id) {
  return "conflict|" + std::string(conflict_id) + "|" + std::string(record_id);
}
std::string ToCbor(const json& j) {
  std::vector<uint8_t> v = json::to_cbor(j);
  return std::string(v.begin(), v.end());
}
Result<json> FromCbor(std::string_view bytes, const char* what) {
  CborLimits limits;
  auto j = ParseCbor(bytes, limits);
  if (!j.ok()) return CorruptionError(std::string("server.db: bad ") + what + ": " + j.status().message());
  return j;
}

constexpr char kHeadJoin[] =
    "SELECT r.record_id, r.type, r.rev, v.seq, v.mutation_id, v.payload FROM records r "
    "JOIN revisions v ON v.record_id = r.record_id AND v.rev = r.rev ";
// kHeadJoin's query for one record (a literal of its own: Stmt(const char*)).
constexpr char kGetHead[] =
    "SELECT r.record_id, r.type, r.rev, v.seq, v.mutation_id, v.payload FROM records r "
    "JOIN revisions v ON v.record_id = r.record_id AND v.rev = r.rev WHERE r.record_id = ?";

}  // namespace

Result<StoredRecord> SqliteServerTxn::ReadRevisionRow(core::Statement& s, int col,
                                                      const std::string& id,
                                                      const std::string& type, int64_t rev,
                                                      bool raw) {
  StoredRecord out;
  out.seq = static_cast<uint64_t>(s.ColumnInt(col));
  out.mutation_id = s.ColumnText(col + 1);
  std::string ad = RevisionAd(id, type, rev);
  std::string sealed = s.ColumnBlob(col + 2);
  out.stored_bytes = sealed.size();
  auto plain = shared_->sealer->Open(sealed, ad);
  if (!plain.ok()) return DataLossError("server.db: revision " + ad + " failed authentication");
  if (raw) {
    // Authenticated under this record's id, type and rev: spliced as stored.
    out.record.id = id;
    out.record.type = type;
    out.record.rev = rev;
    out.cbor = std::move(plain).value();
    return out;
  }
  DS_ASSIGN_OR_RETURN(json j, FromCbor(*plain, "revision"));
  auto rec = PulledRecordFromJson(j, "revision");
  if (!rec.ok()) return CorruptionError("server.db: " + rec.status().message());
  out.record = std::move(rec).value();
  if (out.record.id != id || out.record.rev != rev || out.record.type != type) {
    return CorruptionError("server.db: revision " + ad + " does not match its row");
  }
  return out;
}

Result<std::vector<StoredRecord>> SqliteServerTxn::ReadRecordRows(core::Statement& s, size_t limit,
                                                                 bool raw) {
  std::vector<StoredRecord> out;
  while (out.size() < limit) {
    DS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    DS_ASSIGN_OR_RETURN(StoredRecord r,
                        ReadRevisionRow(s, 3, s.ColumnText(0), s.ColumnText(1), s.ColumnInt(2), raw));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<StoredRecord>> SqliteServerTxn::GetHead(std::string_view record_id) {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(kGetHead));
  StmtRef r(s);
  r->Bind(1, record_id);
  DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> v, ReadRecordRows(*r, 1));
  if (v.empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(v[0]));
}

Result<std::optional<StoredRecord>> SqliteServerTxn::GetRevision(std::string_view record_id,
                                                                int64_t rev) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT r.record_id, r.type, v.rev, v.seq, v.mutation_id, v.payload "
                           "FROM revisions v JOIN records r ON r.record_id = v.record_id "
                           "WHERE v.record_id = ? AND v.rev = ?"));
  StmtRef r(s);
  r->Bind(1, record_id).Bind(2, rev);
  DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> v, ReadRecordRows(*r, 1));
  if (v.empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(v[0]));
}

Status SqliteServerTxn::PutRevision(const StoredRecord& sr) {
  DS_RETURN_IF_ERROR(RequireWrite());
  const PulledRecord& rec = sr.record;
  int64_t head_rev = 0;
  {
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt("SELECT rev, type, subject_id FROM records WHERE record_id = ?"));
    StmtRef r(s);
    r->Bind(1, rec.id);
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    if (row) {
      head_rev = r->ColumnInt(0);
      if (r->ColumnText(1) != rec.type || r->ColumnText(2) != rec.subject_id) {
        return ConflictError("record " + rec.id + " has another type or subject");
      }
    }
  }
  if (rec.rev != head_rev + 1) return ConflictError("revision out of order for " + rec.id);
  DS_ASSIGN_OR_RETURN(std::string sealed,
                      shared_->sealer->Seal(EncodeRecordCbor(rec), RevisionAd(rec.id, rec.type, rec.rev)));
  {
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt("INSERT INTO revisions(record_id, rev, seq, mutation_id, payload) "
                             "VALUES (?, ?, ?, ?, ?)"));
    StmtRef r(s);
    r->Bind(1, rec.id).Bind(2, rec.rev).Bind(3, static_cast<int64_t>(sr.seq));
    r->Bind(4, sr.mutation_id).BindBlob(5, sealed);
    DS_RETURN_IF_ERROR(r->Run());
  }
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO records(record_id, type, subject_id, rev, seq) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT(record_id) DO UPDATE SET "
                           "rev = excluded.rev, seq = excluded.seq"));
  StmtRef r(s);
  r->Bind(1, rec.id).Bind(2, rec.type).Bind(3, rec.subject_id).Bind(4, rec.rev);
  r->Bind(5, static_cast<int64_t>(sr.seq));
  return r->Run();
}

Result<std::vector<StoredRecord>> SqliteServerTxn::ChangedHeads(std::string_view practitioner,
                                                               uint64_t after, uint64_t upto,
                                                               size_t limit, bool raw) {
  // Two plans, the same rows. Usually few of the changes since a checkpoint
  // are on the caseload (a device that pulls often, a server with many
  // practitioners): then the caseload's subjects are looked up by
  // (subject_id, seq) and the few matches sorted. When many are (an initial
  // sync), that sort would cost O(all matches) per page, so the records are
  // walked by seq instead (index records_seq) and the page filled from the
  // front: O(page) when most records are on the caseload. A bounded count
  // (at most kSubjectPlanMax rows) decides.
  constexpr int64_t kSubjectPlanMax = 2048;
  constexpr char kCaseload[] = "SELECT subject_id FROM caseload WHERE practitioner_id = ?";
  // A range of at most kSubjectPlanMax seqs holds at most as many records
  // (seqs are unique): no count needed (an incremental sync's pull).
  bool by_subject = upto >= after && upto - after <= static_cast<uint64_t>(kSubjectPlanMax);
  if (!by_subject) {
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt(std::string("SELECT COUNT(*) FROM (SELECT 1 FROM records INDEXED BY "
                                         "records_subject_seq WHERE subject_id IN (") +
                             kCaseload + ") AND seq > ? AND seq <= ? LIMIT ?)"));
    StmtRef r(s);
    r->Bind(1, practitioner).Bind(2, SeqArg(after)).Bind(3, SeqArg(upto)).Bind(4, kSubjectPlanMax + 1);
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    by_subject = row && r->ColumnInt(0) <= kSubjectPlanMax;
  }
  DS_ASSIGN_OR_RETURN(
      core::Statement* s,
      Stmt(std::string("SELECT r.record_id, r.type, r.rev, v.seq, v.mutation_id, v.payload FROM "
                       "(SELECT record_id, type, rev, seq FROM records INDEXED BY ") +
           (by_subject ? "records_subject_seq" : "records_seq") +
           " WHERE seq > ? AND seq <= ? AND subject_id IN (" + kCaseload +
           ") ORDER BY seq LIMIT ?) r "
           "JOIN revisions v ON v.record_id = r.record_id AND v.rev = r.rev ORDER BY r.seq"));
  StmtRef r(s);
  r->Bind(1, SeqArg(after)).Bind(2, SeqArg(upto)).Bind(3, practitioner);
  r->Bind(4, static_cast<int64_t>(limit));
  return ReadRecordRows(*r, limit, raw);
}

Result<std::vector<StoredRecord>> SqliteServerTxn::SubjectHeads(std::string_view subject,
                                                               std::string_view type,
                                                               uint64_t upto, size_t offset,
                                                               size_t limit, bool raw) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string(kHeadJoin) +
                           "WHERE r.subject_id = ? AND (? = '' OR r.type = ?) AND r.seq <= ? "
                           "ORDER BY r.record_id LIMIT ? OFFSET ?"));
  StmtRef r(s);
  r->Bind(1, subject).Bind(2, type).Bind(3, type).Bind(4, SeqArg(upto));
  r->Bind(5, static_cast<int64_t>(limit)).Bind(6, static_cast<int64_t>(offset));
  return ReadRecordRows(*r, limit, raw);
}

Result<uint64_t> SqliteServerTxn::CountRecords() {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt("SELECT COUNT(*) FROM records"));
  StmtRef r(s);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  return row ? static_cast<uint64_t>(r->ColumnInt(0)) : 0;
}

Result<std::optional<MutationResult>> SqliteServerTxn::GetMutationResult(std::string_view mutation_id) {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt("SELECT result FROM mutations WHERE mutation_id = ?"));
  StmtRef r(s);
  r->Bind(1, mutation_id);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return std::optional<MutationResult>();
  json j = json::parse(r->ColumnText(0), nullptr, false);
  auto res = MutationResultFromJson(j, "mutation");
  if (!res.ok()) return CorruptionError("server.db: " + res.status().message());
  return std::optional<MutationResult>(std::move(res).value());
}

Status SqliteServerTxn::PutMutationResult(std::string_view mutation_id, std::string_view device_id,
                                          std::string_view record_id, const MutationResult& result,
                                          int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO mutations(mutation_id, device_id, record_id, outcome, rev, "
                           "result, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  StmtRef r(s);
  r->Bind(1, mutation_id).Bind(2, device_id).Bind(3, record_id);
  r->Bind(4, std::string_view(OutcomeName(result.outcome))).Bind(5, result.rev);
  r->Bind(6, ToJson(result).dump(-1, ' ', false, json::error_handler_t::replace)).Bind(7, at);
  return r->Run();
}

Status SqliteServerTxn::PutConflict(const StoredConflict& c) {
  DS_RETURN_IF_ERROR(RequireWrite());
  const ConflictInfo& i = c.info;
  DS_ASSIGN_OR_RETURN(std::string sealed, shared_->sealer->Seal(ToCbor(ToJson(i)),
                                                                ConflictAd(i.conflict_id, i.record_id)));
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO conflicts(conflict_id, record_id, subject_id, state, seq, "
                           "opened_at, resolved_at, resolved_by, payload) VALUES (?,?,?,?,?,?,?,?,?) "
                           "ON CONFLICT(conflict_id) DO UPDATE SET state = excluded.state, "
                           "seq = excluded.seq, resolved_at = excluded.resolved_at, "
                           "resolved_by = excluded.resolved_by, payload = excluded.payload"));
  StmtRef r(s);
  r->Bind(1, i.conflict_id).Bind(2, i.record_id).Bind(3, i.subject_id);
  r->Bind(4, std::string_view(i.state == ConflictState::kOpen ? "open" : "resolved"));
  r->Bind(5, static_cast<int64_t>(c.seq)).Bind(6, c.opened_at).Bind(7, c.resolved_at);
  r->Bind(8, c.resolved_by).BindBlob(9, sealed);
  return r->Run();
}

Result<StoredConflict> SqliteServerTxn::ReadConflictRow(core::Statement& s) {
  StoredConflict c;
  std::string id = s.ColumnText(0);
  std::string record_id = s.ColumnText(1);
  c.seq = static_cast<uint64_t>(s.ColumnInt(2));
  c.opened_at = s.ColumnInt(3);
  c.resolved_at = s.ColumnInt(4);
  c.resolved_by = s.ColumnText(5);
  auto plain = shared_->sealer->Open(s.ColumnBlob(6), ConflictAd(id, record_id));
  if (!plain.ok()) return DataLossError("server.db: conflict " + id + " failed authentication");
  DS_ASSIGN_OR_RETURN(json j, FromCbor(*plain, "conflict"));
  auto info = ConflictInfoFromJson(j, "conflict");
  if (!info.ok()) return CorruptionError("server.db: " + info.status().message());
  c.info = std::move(info).value();
  return c;
}

Result<std::vector<StoredConflict>> SqliteServerTxn::ReadConflictRows(core::Statement& s,
                                                                     size_t limit) {
  std::vector<StoredConflict> out;
  while (out.size() < limit) {
    DS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    DS_ASSIGN_OR_RETURN(StoredConflict c, ReadConflictRow(s));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<StoredConflict>> SqliteServerTxn::GetConflict(std::string_view conflict_id) {
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt(std::string("SELECT ") + kConflictColumns +
                                               " FROM conflicts WHERE conflict_id = ?"));
  StmtRef r(s);
  r->Bind(1, conflict_id);
  DS_ASSIGN_OR_RETURN(std::vector<StoredConflict> v, ReadConflictRows(*r, 1));
  if (v.empty()) return std::optional<StoredConflict>();
  return std::optional<StoredConflict>(std::move(v[0]));
}

Result<std::vector<StoredConflict>> SqliteServerTxn::RecordConflicts(std::string_view record_id,
                                                                    bool open_only) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string("SELECT ") + kConflictColumns +
                           " FROM conflicts WHERE record_id = ? AND (? = 0 OR state = 'open') "
                           "ORDER BY seq"));
  StmtRef r(s);
  r->Bind(1, record_id).Bind(2, int64_t{open_only ? 1 : 0});
  return ReadConflictRows(*r, SIZE_MAX);
}

Result<std::vector<StoredConflict>> SqliteServerTxn::ChangedConflicts(std::string_view practitioner,
                                                                     uint64_t after, uint64_t upto,
                                                                     size_t limit) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string("SELECT ") + kConflictColumns +
                           " FROM conflicts WHERE seq > ? AND seq <= ? AND subject_id IN "
                           "(SELECT subject_id FROM caseload WHERE practitioner_id = ?) "
                           "ORDER BY seq LIMIT ?"));
  StmtRef r(s);
  r->Bind(1, SeqArg(after)).Bind(2, SeqArg(upto)).Bind(3, practitioner);
  r->Bind(4, static_cast<int64_t>(limit));
  return ReadConflictRows(*r, limit);
}

Result<std::vector<StoredConflict>> SqliteServerTxn::SubjectConflicts(std::string_view subject,
                                                                     uint64_t upto, size_t limit) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string("SELECT ") + kConflictColumns +
                           " FROM conflicts WHERE subject_id = ? AND seq <= ? ORDER BY seq LIMIT ?"));
  StmtRef r(s);
  r->Bind(1, subject).Bind(2, SeqArg(upto)).Bind(3, static_cast<int64_t>(limit));
  return ReadConflictRows(*r, limit);
}

Result<std::vector<StoredConflict>> SqliteServerTxn::ListConflicts(bool open_only) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt(std::string("SELECT ") + kConflictColumns +
                           " FROM conflicts WHERE (? = 0 OR state = 'open') ORDER BY seq"));
  StmtRef r(s);
  r->Bind(1, int64_t{open_only ? 1 : 0});
  return ReadConflictRows(*r, SIZE_MAX);
}

}  // namespace doorstep::sync::internal
