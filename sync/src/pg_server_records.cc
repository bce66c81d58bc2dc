// PostgreSQL ServerStore: records and revisions (sealed), mutation outcomes
// and conflicts (sealed values). Same rows and sealing as the SQLite store.
#include "cbor_internal.h"
#include "pg_server_store_internal.h"
#include "protocol_internal.h"
#include "record_write_internal.h"

namespace doorstep::sync::internal {

using json = nlohmann::json;

namespace {

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
  if (!j.ok()) return CorruptionError(std::string("postgres: bad ") + what + ": " + j.status().message());
  return j;
}
PgParam T(std::string_view v) { return PgParam::Text(v); }
PgParam I(int64_t v) { return PgParam::Int(v); }
PgParam S(uint64_t v) { return PgParam::Int(PgSeqArg(v)); }

constexpr char kHeadJoin[] =
    "SELECT r.record_id, r.type, r.rev, v.seq, v.mutation_id, v.payload FROM records r "
    "JOIN revisions v ON v.record_id = r.record_id AND v.rev = r.rev ";

}  // namespace

Result<StoredRecord> PgServerTxn::ReadRevisionRow(const PgResult& res, int row, bool raw) {
  std::string id = res.Text(row, 0);
  std::string type = res.Text(row, 1);
  int64_t rev = res.Int(row, 2);
  StoredRecord out;
  out.seq = static_cast<uint64_t>(res.Int(row, 3));
  out.mutation_id = res.Text(row, 4);
  std::string ad = RevisionAd(id, type, rev);
  std::string sealed = res.Bytes(row, 5);
  out.stored_bytes = sealed.size();
  auto plain = shared_->sealer->Open(sealed, ad);
  if (!plain.ok()) return DataLossError("postgres: revision " + ad + " failed authentication");
  if (raw) {
    out.record.id = id;
    out.record.type = type;
    out.record.rev = rev;
    out.cbor = std::move(plain).value();
    return out;
  }
  DS_ASSIGN_OR_RETURN(json j, FromCbor(*plain, "revision"));
  auto rec = PulledRecordFromJson(j, "revision");
  if (!rec.ok()) return CorruptionError("postgres: " + rec.status().message());
  out.record = std::move(rec).value();
  if (out.record.id != id || out.record.rev != rev || out.record.type != type) {
    return CorruptionError("postgres: revision " + ad + " does not match its row");
  }
  return out;
}

Result<std::vector<StoredRecord>> PgServerTxn::ReadRecordRows(const PgResult& res, bool raw) {
  std::vector<StoredRecord> out;
  for (int i = 0; i < res.rows(); ++i) {
    DS_ASSIGN_OR_RETURN(StoredRecord r, ReadRevisionRow(res, i, raw));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<StoredRecord>> PgServerTxn::GetHead(std::string_view record_id) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string(kHeadJoin) + "WHERE r.record_id = $1", {T(record_id)}));
  DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> v, ReadRecordRows(r, false));
  if (v.empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(v[0]));
}

Result<std::optional<StoredRecord>> PgServerTxn::GetRevision(std::string_view record_id, int64_t rev) {
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q("SELECT r.record_id, r.type, v.rev, v.seq, v.mutation_id, v.payload "
                        "FROM revisions v JOIN records r ON r.record_id = v.record_id "
                        "WHERE v.record_id = $1 AND v.rev = $2",
                        {T(record_id), I(rev)}));
  DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> v, ReadRecordRows(r, false));
  if (v.empty()) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(v[0]));
}

Status PgServerTxn::PutRevision(const StoredRecord& sr) {
  DS_RETURN_IF_ERROR(RequireWrite());
  const PulledRecord& rec = sr.record;
  int64_t head_rev = 0;
  {
    DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT rev, type, subject_id FROM records WHERE record_id = $1",
                                      {T(rec.id)}));
    if (r.rows()) {
      head_rev = r.Int(0, 0);
      if (r.Text(0, 1) != rec.type || r.Text(0, 2) != rec.subject_id) {
        return ConflictError("record " + rec.id + " has another type or subject");
      }
    }
  }
  if (rec.rev != head_rev + 1) return ConflictError("revision out of order for " + rec.id);
  DS_ASSIGN_OR_RETURN(std::string sealed,
                      shared_->Seal(EncodeRecordCbor(rec), RevisionAd(rec.id, rec.type, rec.rev)));
  // Both rows are written with the next statement that needs an answer
  // (PgConn::Defer): the head check above ran under the writers' lock, so
  // they cannot conflict; any error still aborts the transaction.
  DS_RETURN_IF_ERROR(D("INSERT INTO revisions(record_id, rev, seq, mutation_id, payload) "
                       "VALUES ($1, $2, $3, $4, $5)",
                       {T(rec.id), I(rec.rev), S(sr.seq), T(sr.mutation_id), PgParam::Bytes(sealed)}));
  return D("INSERT INTO records(record_id, type, subject_id, rev, seq) VALUES ($1, $2, $3, $4, $5) "
           "ON CONFLICT(record_id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq",
           {T(rec.id), T(rec.type), T(rec.subject_id), I(rec.rev), S(sr.seq)});
}

Result<std::vector<StoredRecord>> PgServerTxn::ChangedHeads(std::string_view practitioner,
                                                           uint64_t after, uint64_t upto,
                                                           size_t limit, bool raw) {
  DS_ASSIGN_OR_RETURN(
      PgResult r,
      Q("SELECT r.record_id, r.type, r.rev, v.seq, v.mutation_id, v.payload FROM "
        "(SELECT record_id, type, rev, seq FROM records WHERE seq > $1 AND seq <= $2 "
        "AND subject_id IN (SELECT subject_id FROM caseload WHERE practitioner_id = $3) "
        "ORDER BY seq LIMIT $4) r "
        "JOIN revisions v ON v.record_id = r.record_id AND v.rev = r.rev ORDER BY r.seq",
        {S(after), S(upto), T(practitioner), S(limit)}));
  return ReadRecordRows(r, raw);
}

Result<std::vector<StoredRecord>> PgServerTxn::SubjectHeads(std::string_view subject,
                                                           std::string_view type, uint64_t upto,
                                                           size_t offset, size_t limit, bool raw) {
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q(std::string(kHeadJoin) +
                            "WHERE r.subject_id = $1 AND ($2::text = '' OR r.type = $2::text) "
                            "AND r.seq <= $3 ORDER BY r.record_id COLLATE \"C\" LIMIT $4 OFFSET $5",
                        {T(subject), T(type), S(upto), S(limit), S(offset)}));
  return ReadRecordRows(r, raw);
}

Result<uint64_t> PgServerTxn::CountRecords() {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT COUNT(*) FROM records"));
  return r.rows() ? static_cast<uint64_t>(r.Int(0, 0)) : 0;
}

Result<std::optional<MutationResult>> PgServerTxn::GetMutationResult(std::string_view mutation_id) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT result FROM mutations WHERE mutation_id = $1",
                                    {T(mutation_id)}));
  if (r.rows() == 0) return std::optional<MutationResult>();
  json j = json::parse(r.Text(0, 0), nullptr, false);
  auto res = MutationResultFromJson(j, "mutation");
  if (!res.ok()) return CorruptionError("postgres: " + res.status().message());
  return std::optional<MutationResult>(std::move(res).value());
}

Status PgServerTxn::PutMutationResult(std::string_view mutation_id, std::string_view device_id,
                                      std::string_view record_id, const MutationResult& result,
                                      int64_t at) {
  DS_RETURN_IF_ERROR(RequireWrite());
  // ON CONFLICT DO NOTHING keeps the transaction usable after a duplicate
  // (PostgreSQL aborts a transaction on any failed statement).
  DS_ASSIGN_OR_RETURN(
      PgResult r,
      Q("INSERT INTO mutations(mutation_id, device_id, record_id, outcome, rev, result, "
        "received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        {T(mutation_id), T(device_id), T(record_id), T(OutcomeName(result.outcome)), I(result.rev),
         T(ToJson(result).dump(-1, ' ', false, json::error_handler_t::replace)), I(at)}));
  if (r.affected() != 1) return InvalidArgumentError("mutation " + std::string(mutation_id) + " already stored");
  return Status::Ok();
}

Status PgServerTxn::PutConflict(const StoredConflict& c) {
  DS_RETURN_IF_ERROR(RequireWrite());
  const ConflictInfo& i = c.info;
  DS_ASSIGN_OR_RETURN(std::string sealed,
                      shared_->Seal(ToCbor(ToJson(i)), ConflictAd(i.conflict_id, i.record_id)));
  return Q("INSERT INTO conflicts(conflict_id, record_id, subject_id, state, seq, opened_at, "
           "resolved_at, resolved_by, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
           "ON CONFLICT(conflict_id) DO UPDATE SET state = excluded.state, seq = excluded.seq, "
           "resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by, "
           "payload = excluded.payload",
           {T(i.conflict_id), T(i.record_id), T(i.subject_id),
            T(i.state == ConflictState::kOpen ? "open" : "resolved"), S(c.seq), I(c.opened_at),
            I(c.resolved_at), T(c.resolved_by), PgParam::Bytes(sealed)})
      .status();
}

Result<StoredConflict> PgServerTxn::ReadConflictRow(const PgResult& res, int row) {
  StoredConflict c;
  std::string id = res.Text(row, 0);
  std::string record_id = res.Text(row, 1);
  c.seq = static_cast<uint64_t>(res.Int(row, 2));
  c.opened_at = res.Int(row, 3);
  c.resolved_at = res.Int(row, 4);
  c.resolved_by = res.Text(row, 5);
  auto plain = shared_->sealer->Open(res.Bytes(row, 6), ConflictAd(id, record_id));
  if (!plain.ok()) return DataLossError("postgres: conflict " + id + " failed authentication");
  DS_ASSIGN_OR_RETURN(json j, FromCbor(*plain, "conflict"));
  auto info = ConflictInfoFromJson(j, "conflict");
  if (!info.ok()) return CorruptionError("postgres: " + info.status().message());
  c.info = std::move(info).value();
  return c;
}

Result<std::vector<StoredConflict>> PgServerTxn::ReadConflictRows(const PgResult& res) {
  std::vector<StoredConflict> out;
  for (int i = 0; i < res.rows(); ++i) {
    DS_ASSIGN_OR_RETURN(StoredConflict c, ReadConflictRow(res, i));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::optional<StoredConflict>> PgServerTxn::GetConflict(std::string_view conflict_id) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("SELECT ") + kPgConflictColumns +
                                        " FROM conflicts WHERE conflict_id = $1",
                                    {T(conflict_id)}));
  DS_ASSIGN_OR_RETURN(std::vector<StoredConflict> v, ReadConflictRows(r));
  if (v.empty()) return std::optional<StoredConflict>();
  return std::optional<StoredConflict>(std::move(v[0]));
}

Result<std::vector<StoredConflict>> PgServerTxn::RecordConflicts(std::string_view record_id,
                                                                bool open_only) {
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q(std::string("SELECT ") + kPgConflictColumns +
                            " FROM conflicts WHERE record_id = $1 AND ($2::bigint = 0 OR "
                            "state = 'open') ORDER BY seq",
                        {T(record_id), I(open_only ? 1 : 0)}));
  return ReadConflictRows(r);
}

Result<std::vector<StoredConflict>> PgServerTxn::ChangedConflicts(std::string_view practitioner,
                                                                 uint64_t after, uint64_t upto,
                                                                 size_t limit) {
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q(std::string("SELECT ") + kPgConflictColumns +
                            " FROM conflicts WHERE seq > $1 AND seq <= $2 AND subject_id IN "
                            "(SELECT subject_id FROM caseload WHERE practitioner_id = $3) "
                            "ORDER BY seq LIMIT $4",
                        {S(after), S(upto), T(practitioner), S(limit)}));
  return ReadConflictRows(r);
}

Result<std::vector<StoredConflict>> PgServerTxn::SubjectConflicts(std::string_view subject,
                                                                 uint64_t upto, size_t limit) {
  DS_ASSIGN_OR_RETURN(PgResult r,
                      Q(std::string("SELECT ") + kPgConflictColumns +
                            " FROM conflicts WHERE subject_id = $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                        {T(subject), S(upto), S(limit)}));
  return ReadConflictRows(r);
}

Result<std::vector<StoredConflict>> PgServerTxn::ListConflicts(bool open_only) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q(std::string("SELECT ") + kPgConflictColumns +
                                        " FROM conflicts WHERE ($1::bigint = 0 OR state = 'open') "
                                        "ORDER BY seq",
                                    {I(open_only ? 1 : 0)}));
  return ReadConflictRows(r);
}

}  // namespace doorstep::sync::internal
