// ServerStore: the sync server's storage, behind one interface so that the
// embedded SQLite backend (the default, `server.db` in the server dir) and a
// PostgreSQL backend (a later issue) are interchangeable. docs/server-store.md
// describes the SQLite schema.
//
// Everything happens inside a ServerTxn: a read transaction sees one
// consistent snapshot; a write transaction is applied atomically (a whole
// push batch commits or nothing does) and is serialised against other
// writers. A ServerTxn that is destroyed without Commit() rolls back.
//
// The store, not its caller, seals case content at rest: revision payloads
// (envelope and fields) with the server data key and associated data
// "record_id|type|rev", conflict values with "conflict|conflict_id|record_id".
// Audit entries are chained: hash = BLAKE2b-256(prev_hash || canonical entry
// bytes) (AuditCanonicalBytes); details hold ids and counts only.
//
// Ownership: the caller owns the ServerStore and each ServerTxn; a ServerTxn
// must not outlive its store. Thread safety: ServerStore::Begin may be called
// from any thread (the SQLite backend serialises transactions on its one
// connection); a ServerTxn belongs to one thread at a time. Another process
// (an admin command) may use the same store concurrently.
#ifndef DOORSTEP_SYNC_SERVER_STORE_H_
#define DOORSTEP_SYNC_SERVER_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync {

struct Practitioner {
  std::string id;
  std::string role;  // social_worker | personal_adviser | virtual_school | manager
  int64_t created_at = 0;
};

struct DeviceInfo {
  std::string device_id;      // 32 hex (the device store's id)
  std::string practitioner_id;
  std::string role;           // the practitioner's role at enrolment
  std::string public_key;     // 32 raw bytes (Noise static key)
  int64_t enrolled_at = 0;
  int64_t revoked_at = 0;     // 0 = not revoked
  int64_t last_seen_at = 0;   // 0 = never synced
  bool revoked() const { return revoked_at != 0; }
};

struct EnrolmentCode {
  std::string code_hash;      // BLAKE2b-256 of the code, 32 raw bytes
  std::string practitioner_id;
  std::string role;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t used_at = 0;        // 0 = unused
  std::string used_by;        // device id that redeemed it
};

struct CaseloadEntry {
  std::string practitioner_id;
  std::string subject_id;
  uint64_t assigned_seq = 0;
  int64_t assigned_at = 0;
};

struct CaseloadEvent {
  uint64_t seq = 0;
  std::string practitioner_id;
  std::string subject_id;
  std::string kind;  // "assign" | "unassign"
  int64_t at = 0;
};

// One revision of a record (a head is the latest revision).
struct StoredRecord {
  PulledRecord record;      // envelope and fields, decrypted
  uint64_t seq = 0;         // change sequence of this revision
  std::string mutation_id;  // the mutation that made it ("" for none)
  size_t stored_bytes = 0;  // size of its sealed payload (batch budgets)
  // Read "raw": the record as a CBOR map in the wire's `records` form, and
  // `record` holds only id, type and rev (pulls splice it unparsed).
  std::string cbor;
};

struct StoredConflict {
  ConflictInfo info;        // values decrypted
  uint64_t seq = 0;         // change sequence of its last change
  int64_t opened_at = 0;
  int64_t resolved_at = 0;  // 0 while open
  std::string resolved_by;  // practitioner id
};

struct AuditEntry {
  uint64_t id = 0;          // 1, 2, 3, ... in order
  int64_t at = 0;           // server time, ms
  std::string actor;        // "admin", "device:<id>", "server"
  std::string action;       // e.g. "enroll", "push", "pull", "revoke"
  nlohmann::json details = nlohmann::json::object();  // ids and counts only
  std::string prev_hash;    // hex; 64 zeros for the first entry
  std::string hash;         // hex
};

// An audit entry's position and hash: the chain's last entry, or an anchor
// (one kept outside the server) to check the log against.
struct AuditHead {
  uint64_t id = 0;
  std::string hash;  // 64 lower-case hex
};

// The bytes an audit entry's hash covers (all but `hash` and `prev_hash`):
// compact JSON with sorted keys of {id, at, actor, action, details}.
std::string AuditCanonicalBytes(const AuditEntry& e);
// hex(BLAKE2b-256(raw(prev_hash) || AuditCanonicalBytes(e))).
std::string AuditHash(const AuditEntry& e);
inline const std::string kAuditGenesisHash(64, '0');

enum class TxnMode { kRead, kWrite };

class ServerTxn {
 public:
  virtual ~ServerTxn() = default;  // rolls back unless Commit() succeeded
  // kUnavailable when busy (retry), other codes per core/sqlite.h.
  virtual Status Commit() = 0;

  // ---- change sequence ----
  // The next value of the global change sequence (write transactions).
  virtual Result<uint64_t> NextSeq() = 0;
  // The last value handed out (0 if none).
  virtual Result<uint64_t> MaxSeq() = 0;

  // ---- practitioners, enrolment codes, devices ----
  virtual Status PutPractitioner(const Practitioner& p) = 0;  // insert or update role
  virtual Result<std::optional<Practitioner>> GetPractitioner(std::string_view id) = 0;
  virtual Status PutEnrolmentCode(const EnrolmentCode& c) = 0;
  virtual Result<std::optional<EnrolmentCode>> GetEnrolmentCode(std::string_view code_hash) = 0;
  // Marks a code used; kFailedPrecondition if it was already used.
  virtual Status MarkEnrolmentCodeUsed(std::string_view code_hash, std::string_view device_id,
                                       int64_t at) = 0;
  // Inserts a device; kInvalidArgument if the id or key is already enrolled.
  virtual Status PutDevice(const DeviceInfo& d) = 0;
  virtual Result<std::optional<DeviceInfo>> GetDevice(std::string_view device_id) = 0;
  virtual Result<std::optional<DeviceInfo>> GetDeviceByKey(std::string_view public_key) = 0;
  virtual Result<std::vector<DeviceInfo>> ListDevices() = 0;
  // kNotFound for an unknown device; revoking twice keeps the first time.
  virtual Status RevokeDevice(std::string_view device_id, int64_t at) = 0;
  virtual Status TouchDevice(std::string_view device_id, int64_t at) = 0;

  // ---- caseloads ----
  // Adds or removes (practitioner, subject) and records the event at `seq`.
  virtual Status Assign(const CaseloadEvent& e) = 0;
  virtual Status Unassign(const CaseloadEvent& e) = 0;
  virtual Result<std::optional<CaseloadEntry>> GetCaseloadEntry(std::string_view practitioner,
                                                                 std::string_view subject) = 0;
  virtual Result<std::vector<CaseloadEntry>> ListCaseload(std::string_view practitioner) = 0;
  // Events of `practitioner` with after < seq <= upto, by seq.
  virtual Result<std::vector<CaseloadEvent>> CaseloadEvents(std::string_view practitioner,
                                                           uint64_t after, uint64_t upto) = 0;
  // The latest unassign event of (practitioner, subject), if any.
  virtual Result<std::optional<CaseloadEvent>> LastUnassign(std::string_view practitioner,
                                                           std::string_view subject) = 0;

  // ---- records ----
  virtual Result<std::optional<StoredRecord>> GetHead(std::string_view record_id) = 0;
  virtual Result<std::optional<StoredRecord>> GetRevision(std::string_view record_id,
                                                         int64_t rev) = 0;
  // Stores a new revision and makes it the head. REQUIRES: r.record.rev is
  // the head's rev + 1 (1 for a new record) and r.seq from NextSeq();
  // kConflict otherwise.
  virtual Status PutRevision(const StoredRecord& r) = 0;
  // Heads of records whose subject is on `practitioner`'s caseload, with
  // after < seq <= upto, by seq, at most `limit` (raw: see StoredRecord).
  virtual Result<std::vector<StoredRecord>> ChangedHeads(std::string_view practitioner,
                                                        uint64_t after, uint64_t upto,
                                                        size_t limit, bool raw = false) = 0;
  // Heads of `subject` with seq <= upto, by record id, skipping `offset`,
  // at most `limit`; only of `type` when it is not empty.
  virtual Result<std::vector<StoredRecord>> SubjectHeads(std::string_view subject,
                                                        std::string_view type, uint64_t upto,
                                                        size_t offset, size_t limit,
                                                        bool raw = false) = 0;
  virtual Result<uint64_t> CountRecords() = 0;

  // ---- mutations (exactly once) ----
  virtual Result<std::optional<MutationResult>> GetMutationResult(std::string_view mutation_id) = 0;
  virtual Status PutMutationResult(std::string_view mutation_id, std::string_view device_id,
                                   std::string_view record_id, const MutationResult& result,
                                   int64_t at) = 0;

  // ---- conflicts ----
  // Inserts or replaces (by conflict id).
  virtual Status PutConflict(const StoredConflict& c) = 0;
  virtual Result<std::optional<StoredConflict>> GetConflict(std::string_view conflict_id) = 0;
  virtual Result<std::vector<StoredConflict>> RecordConflicts(std::string_view record_id,
                                                             bool open_only) = 0;
  // Conflicts of subjects on `practitioner`'s caseload, after < seq <= upto,
  // by seq, at most `limit`.
  virtual Result<std::vector<StoredConflict>> ChangedConflicts(std::string_view practitioner,
                                                              uint64_t after, uint64_t upto,
                                                              size_t limit) = 0;
  // Conflicts of `subject` with seq <= upto, at most `limit`.
  virtual Result<std::vector<StoredConflict>> SubjectConflicts(std::string_view subject,
                                                              uint64_t upto, size_t limit) = 0;
  virtual Result<std::vector<StoredConflict>> ListConflicts(bool open_only) = 0;

  // ---- wrong enrolment codes (a limit shared by every server process) ----
  // Records a wrong code from `source` at `at` and forgets every entry
  // older than `forget_before`.
  virtual Status NoteWrongCode(std::string_view source, int64_t at, int64_t forget_before) = 0;
  // How many wrong codes `source` sent at or after `since`.
  virtual Result<uint64_t> CountWrongCodes(std::string_view source, int64_t since) = 0;

  // ---- audit ----
  // Appends `e` (its id, prev_hash and hash are filled in here).
  virtual Status AppendAudit(AuditEntry e) = 0;
  // Entries with id > after, in order, at most `limit`.
  virtual Result<std::vector<AuditEntry>> ReadAudit(uint64_t after, size_t limit) = 0;
};

class ServerStore {
 public:
  virtual ~ServerStore() = default;
  // Starts a transaction. kUnavailable if the database stays busy.
  virtual Result<std::unique_ptr<ServerTxn>> Begin(TxnMode mode) = 0;
};

// Opens (or with `create`, creates) `server.db` in `dir` and seals with
// `data_key` (32 bytes). WAL, synchronous=FULL, busy_timeout. kNotFound if
// absent and !create; kCorruption if it is not a Doorstep server store;
// kInvalidArgument for a bad key.
Result<std::unique_ptr<ServerStore>> OpenSqliteServerStore(const std::string& dir,
                                                           SecretBytes data_key, Env env,
                                                           bool create);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_SERVER_STORE_H_
