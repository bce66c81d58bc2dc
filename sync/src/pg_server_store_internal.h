// The PostgreSQL ServerStore (server_store.h, pg_server_store.h): shared
// state and the transaction class, split over pg_server_*.cc by aspect.
// Private to sync/. docs/server-store.md describes the schema and how
// writers are ordered.
#ifndef DOORSTEP_SYNC_PG_SERVER_STORE_INTERNAL_H_
#define DOORSTEP_SYNC_PG_SERVER_STORE_INTERNAL_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/sync/server_store.h"
#include "pg_conn.h"

namespace doorstep::sync::internal {

// The pool and the sealer, shared by every transaction of one store.
struct PgServerShared {
  std::unique_ptr<PgPool> pool;
  std::mutex seal_mu;  // Sealer::Seal advances a nonce counter
  std::optional<core::Sealer> sealer;
  Env env;

  Result<std::string> Seal(std::string_view plain, std::string_view ad) {
    std::lock_guard<std::mutex> lock(seal_mu);
    return sealer->Seal(plain, ad);
  }
};

class PgServerTxn : public ServerTxn {
 public:
  PgServerTxn(PgServerShared* shared, std::unique_ptr<PgConn> conn, TxnMode mode)
      : shared_(shared), conn_(std::move(conn)), mode_(mode) {}
  ~PgServerTxn() override;

  // Starts the transaction on the connection; a writer takes the sequence
  // row's lock first (see docs/server-store.md, "PostgreSQL").
  Status Start();

  Status Commit() override;
  Result<uint64_t> NextSeq() override;
  Result<uint64_t> MaxSeq() override;

  Status PutPractitioner(const Practitioner& p) override;
  Result<std::optional<Practitioner>> GetPractitioner(std::string_view id) override;
  Status PutEnrolmentCode(const EnrolmentCode& c) override;
  Result<std::optional<EnrolmentCode>> GetEnrolmentCode(std::string_view code_hash) override;
  Status MarkEnrolmentCodeUsed(std::string_view code_hash, std::string_view device_id,
                               int64_t at) override;
  Status PutDevice(const DeviceInfo& d) override;
  Result<std::optional<DeviceInfo>> GetDevice(std::string_view device_id) override;
  Result<std::optional<DeviceInfo>> GetDeviceByKey(std::string_view public_key) override;
  Result<std::vector<DeviceInfo>> ListDevices() override;
  Status RevokeDevice(std::string_view device_id, int64_t at) override;
  Status TouchDevice(std::string_view device_id, int64_t at) override;

  Status Assign(const CaseloadEvent& e) override;
  Status Unassign(const CaseloadEvent& e) override;
  Result<std::optional<CaseloadEntry>> GetCaseloadEntry(std::string_view practitioner,
                                                         std::string_view subject) override;
  Result<std::vector<CaseloadEntry>> ListCaseload(std::string_view practitioner) override;
  Result<std::vector<CaseloadEvent>> CaseloadEvents(std::string_view practitioner, uint64_t after,
                                                   uint64_t upto) override;
  Result<std::optional<CaseloadEvent>> LastUnassign(std::string_view practitioner,
                                                   std::string_view subject) override;

  Result<std::optional<StoredRecord>> GetHead(std::string_view record_id) override;
  Result<std::optional<StoredRecord>> GetRevision(std::string_view record_id, int64_t rev) override;
  Status PutRevision(const StoredRecord& r) override;
  Result<std::vector<StoredRecord>> ChangedHeads(std::string_view practitioner, uint64_t after,
                                                uint64_t upto, size_t limit, bool raw) override;
  Result<std::vector<StoredRecord>> SubjectHeads(std::string_view subject, std::string_view type,
                                                uint64_t upto, size_t offset, size_t limit,
                                                bool raw) override;
  Result<uint64_t> CountRecords() override;

  Result<std::optional<MutationResult>> GetMutationResult(std::string_view mutation_id) override;
  Status PutMutationResult(std::string_view mutation_id, std::string_view device_id,
                           std::string_view record_id, const MutationResult& result,
                           int64_t at) override;

  Status PutConflict(const StoredConflict& c) override;
  Result<std::optional<StoredConflict>> GetConflict(std::string_view conflict_id) override;
  Result<std::vector<StoredConflict>> RecordConflicts(std::string_view record_id,
                                                     bool open_only) override;
  Result<std::vector<StoredConflict>> ChangedConflicts(std::string_view practitioner,
                                                      uint64_t after, uint64_t upto,
                                                      size_t limit) override;
  Result<std::vector<StoredConflict>> SubjectConflicts(std::string_view subject, uint64_t upto,
                                                      size_t limit) override;
  Result<std::vector<StoredConflict>> ListConflicts(bool open_only) override;

  Status NoteWrongCode(std::string_view source, int64_t at, int64_t forget_before) override;
  Result<uint64_t> CountWrongCodes(std::string_view source, int64_t since) override;

  Status AppendAudit(AuditEntry e) override;
  Result<std::vector<AuditEntry>> ReadAudit(uint64_t after, size_t limit) override;

 private:
  Result<PgResult> Q(const std::string& sql, const std::vector<PgParam>& params = {});
  // Queues a write whose result is not needed (PgConn::Defer).
  Status D(const std::string& sql, std::vector<PgParam> params);
  Status RequireWrite() const;
  // Decodes revision row `row` (columns record_id, type, rev, seq,
  // mutation_id, payload).
  Result<StoredRecord> ReadRevisionRow(const PgResult& res, int row, bool raw);
  Result<std::vector<StoredRecord>> ReadRecordRows(const PgResult& res, bool raw);
  Result<StoredConflict> ReadConflictRow(const PgResult& res, int row);
  Result<std::vector<StoredConflict>> ReadConflictRows(const PgResult& res);
  static DeviceInfo ReadDeviceRow(const PgResult& res, int row);

  PgServerShared* shared_;
  std::unique_ptr<PgConn> conn_;
  TxnMode mode_;
  bool open_ = false;
  // As in the SQLite store: read once (under the row lock for writers),
  // advanced in memory by NextSeq and written back by Commit.
  std::optional<uint64_t> seq_;
  bool seq_dirty_ = false;
  // The audit log's last (id, hash), read once per write transaction under
  // the writers' lock; later entries chain in memory.
  std::optional<std::pair<uint64_t, std::string>> audit_tail_;
};

// Sequence bounds as PostgreSQL bigints (values past INT64_MAX mean "all").
inline int64_t PgSeqArg(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

inline constexpr char kPgDeviceColumns[] =
    "device_id, practitioner_id, role, public_key, enrolled_at, revoked_at, last_seen_at";
inline constexpr char kPgConflictColumns[] =
    "conflict_id, record_id, seq, opened_at, resolved_at, resolved_by, payload";

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PG_SERVER_STORE_INTERNAL_H_
