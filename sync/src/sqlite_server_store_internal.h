// The SQLite ServerStore (server_store.h): shared connection state and the
// transaction class, split over sqlite_server_*.cc by aspect. Private to sync/.
#ifndef DOORSTEP_SYNC_SQLITE_SERVER_STORE_INTERNAL_H_
#define DOORSTEP_SYNC_SQLITE_SERVER_STORE_INTERNAL_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "doorstep/core/crypto.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/sync/server_store.h"

namespace doorstep::sync::internal {

// One connection, its sealer and its prepared statements. Everything in it is
// guarded by `mu`, which a transaction holds from Begin to its end. The store
// has one writer connection and a few reader connections (WAL: readers see
// the last commit and are not held up by a write transaction); they share
// the sealer (only the writer seals; opening is const and thread-safe).
struct SqliteServerShared {
  std::mutex mu;
  std::unique_ptr<core::Database> db;
  std::shared_ptr<core::Sealer> sealer;
  std::map<std::string, core::Statement> stmts;
  // The same statements by the address of their SQL when it is a string
  // literal (SqliteServerTxn::Stmt(const char*)): the push path runs about
  // eight per mutation, and building and comparing their ~100-byte SQL
  // strings in `stmts` for each was measurable on the committer.
  std::unordered_map<const char*, core::Statement*> by_literal;
  Env env;
};

// A cached prepared statement, reset when this goes out of scope.
class StmtRef {
 public:
  explicit StmtRef(core::Statement* s) : s_(s) {}
  ~StmtRef() { (void)s_->Reset(); }
  StmtRef(const StmtRef&) = delete;
  StmtRef& operator=(const StmtRef&) = delete;
  core::Statement* operator->() { return s_; }
  core::Statement& operator*() { return *s_; }

 private:
  core::Statement* s_;
};

// Runs the writer connection's WAL checkpoints on a thread and connection of
// its own (sqlite_server_checkpoint.cc), so that a push commit never waits
// for a checkpoint's copying and fsyncs. Installs itself as `writer`'s WAL
// hook (replacing SQLite's automatic checkpoint); must be destroyed before
// `writer` is closed. Thread safety: Committed is called by the writer's
// thread; everything else is internal.
class WalCheckpointer {
 public:
  // A background checkpoint is started once the WAL holds this many
  // frames (8 MB of 4 KB pages) ...
  static constexpr int kBackgroundFrames = 2000;
  // ... the writer copies the rest itself (so that the WAL restarts) once
  // the background has copied all but this many ...
  static constexpr int kFinishFrames = 1000;
  // ... and checkpoints itself, as SQLite's automatic checkpoint would, past
  // this many (the background is not keeping up: bounds the WAL at ~64 MB).
  static constexpr int kForegroundFrames = 16000;

  // Opens a second connection to `path` and hooks `writer`'s commits.
  static Result<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                        core::Database& writer);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // The writer's WAL hook: `frames` frames are in the WAL after a commit.
  void Committed(sqlite3* db, const char* name, int frames);
  // Checkpoints run so far (tests).
  uint64_t checkpoints() const { return checkpoints_.load(); }

 private:
  WalCheckpointer() = default;
  void Run();

  std::unique_ptr<core::Database> db_;
  core::Database* writer_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> checkpoints_{0};
  // Frames the last background checkpoint copied (0 after a WAL restart).
  std::atomic<int> copied_{0};
  std::thread thread_;
};

class SqliteServerTxn : public ServerTxn {
 public:
  SqliteServerTxn(SqliteServerShared* shared, std::unique_lock<std::mutex> lock, TxnMode mode)
      : shared_(shared), lock_(std::move(lock)), mode_(mode) {}
  ~SqliteServerTxn() override;

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
  // The cached statement for `sql`, prepared on first use.
  Result<core::Statement*> Stmt(const std::string& sql);
  // As above for SQL in a string literal (static storage: it is looked up
  // by its address). Never pass a pointer into a temporary string.
  Result<core::Statement*> Stmt(const char* sql);
  Status RequireWrite() const;
  // Reads the revision row the statement is on (columns seq, mutation_id,
  // payload at `col`, `col`+1, `col`+2) for record `id`, `type`, `rev`.
  Result<StoredRecord> ReadRevisionRow(core::Statement& s, int col, const std::string& id,
                                       const std::string& type, int64_t rev, bool raw = false);
  Result<std::vector<StoredRecord>> ReadRecordRows(core::Statement& s, size_t limit,
                                                   bool raw = false);
  Result<StoredConflict> ReadConflictRow(core::Statement& s);
  Result<std::vector<StoredConflict>> ReadConflictRows(core::Statement& s, size_t limit);
  Result<DeviceInfo> ReadDeviceRow(core::Statement& s);

  SqliteServerShared* shared_;
  std::unique_lock<std::mutex> lock_;
  TxnMode mode_;
  bool open_ = true;
  // The change sequence as this transaction sees it: read once, advanced in
  // memory by NextSeq and written back by Commit (writers are serialised).
  std::optional<uint64_t> seq_;
  bool seq_dirty_ = false;
  // The audit log's last (id, hash) as this write transaction sees it.
  std::optional<std::pair<uint64_t, std::string>> audit_tail_;
};

// Column list matching ReadDeviceRow / ReadConflictRow.
inline constexpr char kDeviceColumns[] =
    "device_id, practitioner_id, role, public_key, enrolled_at, revoked_at, last_seen_at";
inline constexpr char kConflictColumns[] =
    "conflict_id, record_id, seq, opened_at, resolved_at, resolved_by, payload";

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_SQLITE_SERVER_STORE_INTERNAL_H_
