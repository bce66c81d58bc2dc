// Store::Impl: the state behind a Store, shared by store.cc (files, keys,
// locking), store_records.cc (record writes and reads) and store_sync.cc (the
// sync client's view). Private to core.
#ifndef DOORSTEP_CORE_STORE_INTERNAL_H_
#define DOORSTEP_CORE_STORE_INTERNAL_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/env.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/record.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/core/store.h"

namespace doorstep::core {

inline constexpr int kStoreFormat = 4;

// AddMany prepares records on a second thread from this many records on
// (fewer: one at a time, a thread costs more than it saves).
inline constexpr size_t kAddManyPipelineMin = 32;

// The readable audit log: the audit table's entries (everything but record
// writes, and record writes migrated from format 2 that no version row
// holds) and every local add/edit/amend version row. Order by at_ms.
inline constexpr char kAuditLogViewSql[] = R"sql(
CREATE VIEW audit_log(at_ms, action, record_id, version, detail) AS
  SELECT at_ms, action, record_id, version, detail FROM audit
  UNION ALL
  SELECT at_ms, CASE action WHEN 1 THEN 'add' WHEN 2 THEN 'edit' ELSE 'amend' END, lower(hex(record)),
         local_version, NULL
  FROM versions WHERE action BETWEEN 1 AND 3;
)sql";

// What wrote a version row (versions.action). A local write's audit entry is
// its version row (docs/store.md, "Store format 3").
enum VersionAction : int64_t {
  kActionPulled = 0,
  kActionAdd = 1,
  kActionEdit = 2,
  kActionAmend = 3,
  kActionResolve = 4,
  // A server revision exactly as the server holds it: pulled with no local
  // change put on top, or recorded from a push's answer (store_sync.cc).
  // A later local edit of it is then known to start from the server's very
  // record (RecordPushedRevisions relies on this). A pulled version with
  // local changes on top (or from before this value existed) is kActionPulled.
  kActionServer = 5,
};

// Record ids are 32 lower-case hex characters in the API and in every
// associated data; the file keeps their 16 bytes. REQUIRES: IsRecordId(hex).
std::string RawId(std::string_view hex);
// The sortable integer key of an HLC stamp's time and counter
// (ms << 20 | counter, the counter saturating at 2^20 - 1); 0 if `hlc` does
// not decode. The text stamp is the exact order (Store::List sorts by it).
int64_t HlcKey(std::string_view hlc);

// The clear keys of a record version's rows: the record id's 16 bytes and
// the HLC stamp's sortable key.
struct VersionKeys {
  std::string raw_id;
  int64_t hlc_key = 0;
};
// kInvalidArgument if r.id is not a record id.
Result<VersionKeys> VersionKeysOf(const Record& r);

// A cached statement in use; reset (bindings cleared, read released) when the
// use ends, so the next user finds it fresh.
class StmtRef {
 public:
  explicit StmtRef(Statement* s) : s_(s) {}
  StmtRef(StmtRef&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  StmtRef& operator=(StmtRef&&) = delete;
  StmtRef(const StmtRef&) = delete;
  ~StmtRef() {
    if (s_ != nullptr) (void)s_->Reset();
  }
  Statement* operator->() { return s_; }
  Statement& operator*() { return *s_; }

 private:
  Statement* s_;
};

// Where a record stands: its clear row in `records`.
struct RecordHead {
  std::string type;
  std::string subject_id;
  int64_t local_version = 0;
  int64_t rev = 0;
  int64_t hlc_key = 0;
  int64_t head = 0;  // versions.seq of the current version
};

// What a local record write inside a store batch has written so far, so that
// it can take it back if it fails before its end (RecordWriteTxn; no
// savepoint: docs/store.md, session 9). Its last statement, the records
// row's insert or update, is undone by SQLite itself if it fails, so only
// the version row written before it can need taking back.
struct WriteUndo {
  int64_t version_seq = 0;  // the versions row it appended (0: none yet)
};

class AddHelper;  // AddMany's helper thread (store_records.cc)

class Store::Impl {
 public:
  // Registers commit and rollback hooks on the connection (see
  // version_seq_current_).
  Impl(std::unique_ptr<Database> db, Env env);
  ~Impl() { Close(); }

  Database& db() { return *db_; }
  Env& env() { return env_; }

  // A prepared statement for `sql` (a string literal: cached by address),
  // kept for the connection's life. Not reentrant: a cached statement must not
  // be used again while a use of it is still open.
  Result<StmtRef> Stmt(const char* sql);

  // Meta table (clear values: ids, counters, KDF parameters, wrapped key).
  Result<std::optional<std::string>> GetMeta(std::string_view key);
  Status SetMeta(std::string_view key, std::string_view value);
  Result<int64_t> GetMetaInt(std::string_view key, int64_t fallback);
  Status SetMetaInt(std::string_view key, int64_t value);
  // Sealed meta values, bound to their key name.
  Status SetSealedMeta(std::string_view key, std::string_view plaintext);
  Result<std::optional<std::string>> GetSealedMeta(std::string_view key);

  // REQUIRES: unlocked. Seals/opens with associated data `ad`.
  Result<std::string> Seal(std::string_view plaintext, std::string_view ad);
  Result<std::string> Open(std::string_view sealed, std::string_view ad);
  Status RequireUnlocked() const;
  bool unlocked() const { return sealer_.has_value(); }
  // Starts an unlocked session: the sealer, and fresh per-session id sources.
  void SetSealer(Sealer s);
  void DropSealer();
  // The open batch was begun with synchronous=NORMAL (BeginBatchUnsynced):
  // CommitBatch sets FULL back after it.
  bool unsynced_batch = false;
  // Sets synchronous=FULL back after an unsynced commit. If it cannot, later
  // commits would silently lose their power-cut durability, so the
  // connection is closed instead (kInternal): every later call fails until
  // the store is opened again (which sets FULL).
  Status RestoreFullSync();
  // Closes the connection (wiped or destroyed store); every later call fails.
  void Close() {
    add_helper_.reset();  // stops and joins the thread (it is between calls)
    DropSealer();
    stmts_.clear();
    db_.reset();
  }
  bool closed() const { return db_ == nullptr; }

  // Associated data of a record version.
  static std::string RecordAd(std::string_view id, std::string_view type, int64_t local_version);

  // A new record id (32 hex), no system call per record: 48 bits that count
  // up within the session from a random start drawn at unlock (so a
  // session's new records go into the records b-tree side by side, not at
  // random places), then 80 bits of a ChaCha20 stream keyed at unlock from
  // env().random (so no id can be guessed from another).
  std::string NewId();
  // A mutation id (32 hex): a 96-bit random per-session prefix (`prefix`,
  // 12 bytes) and the mutation's seq — from store format 4 its version's
  // seq, so an ack finds its row without an index (ids never repeat: see
  // docs/store.md).
  static std::string MutationId(std::string_view prefix, int64_t seq);
  // This session's prefix (12 bytes).
  const std::string& mutation_prefix() const { return mutation_prefix_; }
  // Splits a mutation id into its prefix (12 bytes) and row; false if it
  // cannot be one of ours.
  static bool ParseMutationId(std::string_view mutation_id, std::string* prefix, int64_t* seq);

  // The next HLC stamp for a local write (recovers the last one lazily).
  Result<std::string> NextHlc();
  // Recovers the last stamp now if not yet done (reads the connection), so
  // that NextHlc then touches only the clock (AddMany's preparing thread).
  Status RecoverHlc();

  // The clear row of record `id`; kNotFound if there is none.
  Result<RecordHead> Head(std::string_view id);
  // Opens version row `seq` of record `id` (of `type`). kDataLoss if the row
  // is missing or fails to open (the associated data binds it to its record
  // and version). `prev` (optional) receives the previous version's seq (0:
  // none).
  Result<Record> ReadSeq(std::string_view id, std::string_view type, int64_t seq, int64_t* prev = nullptr);
  // Reads the body of record `id` at `local_version` (current or history).
  Result<Record> ReadVersion(std::string_view id, int64_t local_version);
  // Reads the current record.
  Result<Record> ReadCurrent(std::string_view id);
  // Appends `r` (r.local_version already bumped) as a new sealed version
  // after version `prev_seq` (0: a new record) and makes it current;
  // `action` is what wrote it. A local write (add, edit, amend, resolve) is
  // queued for push in its own row: its mutation is the version's seq, and
  // `detail` (a resolve's payload; null: none) is sealed into the row. For a
  // local write the row is also its audit entry, timed now. Returns the new
  // version's seq. Inside a transaction.
  Result<int64_t> WriteVersion(const Record& r, int64_t prev_seq, std::string_view origin, VersionAction action,
                               const nlohmann::json* detail = nullptr);
  // WriteVersion's two halves. SealVersion writes r's body into `*body`
  // (plaintext scratch, wiped and cleared however it returns) and seals it
  // into `*sealed`, with the nonce of `ticket` (ReserveSeal) if given; it
  // touches neither the connection nor the clock and only the sealer of
  // the store's state (safe concurrently), so AddMany runs it on both its
  // threads at once. InsertVersion writes the sealed body as WriteVersion
  // does, `at_ms` being the audit time.
  // `keys` are r's (VersionKeysOf), worked out beforehand by the caller.
  // `undo` (optional) is told each row as it is written.
  Status SealVersion(const Record& r, std::string_view origin, std::string* body, std::string* sealed);
  Status SealVersion(const Record& r, std::string_view origin, SealTicket ticket, std::string* body,
                     std::string* sealed);
  // Reserves the sealer's next nonce (Sealer::Reserve). REQUIRES: unlocked.
  Result<SealTicket> ReserveSeal();
  Result<int64_t> InsertVersion(const Record& r, const VersionKeys& keys, std::string_view sealed, int64_t prev_seq,
                                VersionAction action, int64_t at_ms, WriteUndo* undo = nullptr,
                                const nlohmann::json* detail = nullptr);
  // The seq for the next version row (and its mutation, if a local write):
  // above every row present and every seq the queue has passed
  // (meta queue_from), and never repeated within this session. Inside a
  // transaction.
  Result<int64_t> ReserveVersionSeq();
  // meta queue_from: no version row below it is queued (docs/store.md,
  // "Store format 4"). 1 if absent.
  Result<int64_t> QueueFrom();
  // Appends an audit entry that is not a record write (detail sealed).
  // Inside a transaction.
  Status Audit(std::string_view action, std::string_view record_id, const nlohmann::json& detail);

  std::string device_id;
  std::string author_id;  // practitioner id once enrolled ("" before)

  // Scratch buffers for a record version's plaintext body (wiped after each
  // use) and its sealed body, reused so a loop of writes allocates them once.
  std::string* body_scratch() { return &body_buf_; }
  std::string* sealed_scratch() { return &sealed_buf_; }

  // AddMany's helper thread: started by the first AddMany that prepares
  // records on two threads and kept, asleep between calls, until the store
  // closes. nullptr if no thread can be started (AddMany then prepares and
  // writes on the calling thread alone).
  AddHelper* add_helper();

 private:
  std::unique_ptr<Database> db_;
  Env env_;
  std::optional<Sealer> sealer_;
  std::optional<HybridClock> hlc_;
  std::vector<std::pair<const char*, std::unique_ptr<Statement>>> stmts_;
  unsigned char id_key_[32] = {};
  uint64_t id_counter_ = 0;
  unsigned char id_block_[64] = {};  // NewId's keystream block for ids 4k..4k+3
  RecordIdOrder id_order_;  // this session's ids' first 48 bits, drawn at unlock
  std::string mutation_prefix_;   // 12 bytes
  // WriteVersion's plaintext body, reused so a bulk write does not allocate
  // (and fault in) a fresh 2 KB buffer per record; wiped after every use.
  std::string body_buf_;
  // WriteVersion's sealed body (not secret), reused for the same reason.
  std::string sealed_buf_;
  int64_t next_version_seq_ = 0;  // 0: not yet known this session
  // True from ReserveVersionSeq's query of the file until the transaction
  // it ran in ends (the connection's commit and rollback hooks clear it,
  // automatic rollbacks included). While it is true this connection holds
  // the write lock, so no other handle can have added a version row and
  // next_version_seq_ alone is right: a batch of writes queries the file
  // once, not once per write.
  bool version_seq_current_ = false;
  // Shared only for its deleter, which AddHelper's completeness here would
  // otherwise need. Reset by Close.
  std::shared_ptr<AddHelper> add_helper_;
};

// Writes server revision `r` (a pulled record, or one a push's answer
// recorded) as the record's new current version, every still-pending local
// change on top: kActionServer when there was none (the version is then
// exactly the server's), else kActionPulled. False, writing nothing, if the
// device has that revision or a later one already. Inside a transaction.
Result<bool> WriteServerRevision(Store::Impl& impl, Record r);

// Moves meta queue_from up to the oldest mutation still queued in a version
// row, or past the last row if none is, taking the rows `ended` (seqs at or
// above queue_from whose mutation a push's answer ended) off the queue:
// those it passes are left as they are, any other has its session and
// pdetail cleared. Run by every transaction that ends mutations or writes
// rows that are not queued (acks, pulls, recorded pushed revisions), so the
// queue's range — what PendingMutations, the status count and this scan read
// — is the versions written since the oldest unpushed change. Inside a
// transaction.
Status MoveQueueFrom(Store::Impl& impl, const std::set<int64_t>& ended = {});

// The sealed plaintext of a record version: the envelope (compact keys,
// defaults left out) and the fields. id, type and local_version are not in
// it: the associated data binds them. See docs/store.md.
// Migrates a format-2 store file to format 3 in one transaction (no key
// needed: sealed values keep their bytes). A no-op if another connection
// already did. kCorruption if the format-2 rows are inconsistent (the file
// is then left as it was).
Status MigrateFormat2To3(Database& db);
// Migrates a format-3 store file to format 4 in one transaction: the
// versions table gains its queue columns (no row is rewritten; mutations
// queued before stay in `pending`) and meta gains queue_from. A no-op if
// another connection already did.
Status MigrateFormat3To4(Database& db);

// Writes it into `*body` (cleared first; a caller may reuse one buffer, and
// wipes it after use).
void EncodeVersionBody(const Record& r, std::string_view origin, std::string_view own_device,
                       std::string* body);
// Parses a body made by EncodeVersionBody; kDataLoss if malformed.
Result<Record> DecodeVersionBody(std::string_view plain, std::string_view id, std::string_view type,
                                 int64_t local_version, std::string_view own_device);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_STORE_INTERNAL_H_
