// Store: writing and reading records. Each write — the record's new version,
// which is also its queued sync mutation and its audit entry, and its
// records row — commits in one transaction.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <new>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include <sodium.h>
#include <sqlite3.h>

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

}  // namespace

Result<std::string> Store::Impl::NextHlc() {
  DS_RETURN_IF_ERROR(RecoverHlc());
  return hlc_->Now().Encode();
}

Status Store::Impl::RecoverHlc() {
  if (!hlc_) {
    // Recover the last stamp issued here so clocks never run backwards
    // across restarts, even if the wall clock did.
    // The records keep each stamp's time and counter (HlcKey); a counter
    // that saturated the key's 20 bits recovers as the next millisecond.
    HlcStamp last;
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_, "SELECT max(hlc_key) FROM records"));
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && !st.ColumnIsNull(0)) {
      int64_t key = st.ColumnInt(0);
      constexpr int64_t kCounterMask = (int64_t{1} << 20) - 1;
      last.physical_ms = key >> 20;
      last.counter = static_cast<uint32_t>(key & kCounterMask);
      if (last.counter == kCounterMask) {
        ++last.physical_ms;
        last.counter = 0;
      }
    }
    hlc_.emplace(env_.clock, device_id, last);
  }
  return Status::Ok();
}

Result<RecordHead> Store::Impl::Head(std::string_view id) {
  if (!IsRecordId(id)) return NotFoundError("no record " + std::string(id) + " (ids are 32 hex characters)");
  DS_ASSIGN_OR_RETURN(StmtRef st,
                      Stmt("SELECT type, subject_id, local_version, rev, hlc_key, head FROM records WHERE id=?"));
  st->BindBlob(1, RawId(id));
  DS_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return NotFoundError("no record " + std::string(id));
  RecordHead h;
  h.type = st->ColumnText(0);
  h.subject_id = st->ColumnText(1);
  h.local_version = st->ColumnInt(2);
  h.rev = st->ColumnInt(3);
  h.hlc_key = st->ColumnInt(4);
  h.head = st->ColumnInt(5);
  return h;
}

Result<Record> Store::Impl::ReadSeq(std::string_view id, std::string_view type, int64_t seq, int64_t* prev) {
  int64_t local_version = 0;
  std::string sealed;
  {
    DS_ASSIGN_OR_RETURN(StmtRef st, Stmt("SELECT local_version, prev, body FROM versions WHERE seq=?"));
    st->Bind(1, seq);
    DS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return DataLossError("record " + std::string(id) + " lacks version row " + std::to_string(seq));
    local_version = st->ColumnInt(0);
    if (prev != nullptr) *prev = st->ColumnInt(1);
    sealed = st->ColumnBlob(2);
  }
  DS_ASSIGN_OR_RETURN(std::string plain, Open(sealed, RecordAd(id, type, local_version)));
  auto r = DecodeVersionBody(plain, id, type, local_version, device_id);
  sodium_memzero(plain.data(), plain.size());
  return r;
}

Result<Record> Store::Impl::ReadVersion(std::string_view id, int64_t local_version) {
  DS_ASSIGN_OR_RETURN(RecordHead h, Head(id));
  int64_t seq = h.head;
  // Walk the version chain back from the current version (records have few).
  while (seq != 0) {
    int64_t lv = 0, prev = 0;
    {
      DS_ASSIGN_OR_RETURN(StmtRef st, Stmt("SELECT local_version, prev FROM versions WHERE seq=?"));
      st->Bind(1, seq);
      DS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;  // purged history
      lv = st->ColumnInt(0);
      prev = st->ColumnInt(1);
    }
    if (lv == local_version) return ReadSeq(id, h.type, seq);
    if (lv < local_version || prev >= seq) break;
    seq = prev;
  }
  return NotFoundError("record " + std::string(id) + " has no version " + std::to_string(local_version));
}

Result<Record> Store::Impl::ReadCurrent(std::string_view id) {
  DS_ASSIGN_OR_RETURN(RecordHead h, Head(id));
  DS_ASSIGN_OR_RETURN(Record r, ReadSeq(id, h.type, h.head));
  if (r.local_version != h.local_version) return DataLossError("record " + std::string(id) + " does not match its row");
  return r;
}

namespace {

// Points a record's row at a new head (InsertVersion).
constexpr char kUpdateRecordRowSql[] =
    "UPDATE records SET local_version=?, rev=?, hlc_key=?, subject_id=?, head=? WHERE id=?";

}  // namespace

Result<int64_t> Store::Impl::WriteVersion(const Record& r, int64_t prev_seq, std::string_view origin,
                                          VersionAction action, const nlohmann::json* detail) {
  // Sealed into a buffer kept by the store: a bulk write allocates it once.
  DS_RETURN_IF_ERROR(SealVersion(r, origin, &body_buf_, &sealed_buf_));
  DS_ASSIGN_OR_RETURN(VersionKeys keys, VersionKeysOf(r));
  return InsertVersion(r, keys, sealed_buf_, prev_seq, action, env_.clock->NowMillis(), nullptr, detail);
}

Result<VersionKeys> VersionKeysOf(const Record& r) {
  if (!IsRecordId(r.id)) return InvalidArgumentError("record id must be 32 hex characters");
  return VersionKeys{RawId(r.id), HlcKey(r.hlc)};
}

Result<SealTicket> Store::Impl::ReserveSeal() {
  DS_RETURN_IF_ERROR(RequireUnlocked());
  return sealer_->Reserve();
}

Status Store::Impl::SealVersion(const Record& r, std::string_view origin, std::string* body, std::string* sealed) {
  DS_ASSIGN_OR_RETURN(SealTicket ticket, ReserveSeal());
  return SealVersion(r, origin, std::move(ticket), body, sealed);
}

Status Store::Impl::SealVersion(const Record& r, std::string_view origin, SealTicket ticket, std::string* body,
                                std::string* sealed) {
  // The plaintext is wiped however this is left (AppendJson throws on text
  // that is not UTF-8, which validation has already refused).
  struct Wipe {
    std::string* s;
    ~Wipe() {
      sodium_memzero(s->data(), s->size());
      s->clear();
    }
  } wipe{body};
  EncodeVersionBody(r, origin, device_id, body);
  DS_RETURN_IF_ERROR(RequireUnlocked());
  return sealer_->SealTo(std::move(ticket), *body, RecordAd(r.id, r.type, r.local_version), sealed);
}

Result<int64_t> Store::Impl::InsertVersion(const Record& r, const VersionKeys& keys, std::string_view sealed_body,
                                           int64_t prev_seq, VersionAction action, int64_t at_ms, WriteUndo* undo,
                                           const nlohmann::json* detail) {
  const std::string& raw_id = keys.raw_id;
  DS_ASSIGN_OR_RETURN(int64_t seq, ReserveVersionSeq());
  // A local write is queued for push in its own row (format 4): its
  // mutation is this seq, `session` this session's mutation-id prefix.
  const bool queued = action == kActionAdd || action == kActionEdit || action == kActionAmend ||
                      action == kActionResolve;
  std::string sealed_detail;
  if (queued && detail != nullptr) {
    DS_ASSIGN_OR_RETURN(sealed_detail, Seal(detail->dump(), "ds1|pending|" + MutationId(mutation_prefix_, seq)));
  }
  {
    // The version row is also a local write's audit entry: action and time.
    DS_ASSIGN_OR_RETURN(StmtRef ins, Stmt(
        "INSERT INTO versions(seq, record, local_version, prev, mutation, action, at_ms, body, session, pdetail) "
        "VALUES(?,?,?,?,?,?,?,?,?,?)"));
    // Bound without copies: raw_id, sealed_body, r, the prefix and the
    // detail outlive Run(), which resets and clears the bindings.
    ins->Bind(1, seq).BindBlobStatic(2, raw_id).Bind(3, r.local_version).Bind(4, prev_seq).Bind(5, queued ? seq : 0)
        .Bind(6, action).Bind(7, at_ms).BindBlobStatic(8, sealed_body);
    if (queued) ins->BindBlobStatic(9, mutation_prefix_); else ins->BindNull(9);
    if (sealed_detail.empty()) ins->BindNull(10); else ins->BindBlobStatic(10, sealed_detail);
    DS_RETURN_IF_ERROR(ins->Run());
  }
  if (undo != nullptr) undo->version_seq = seq;
  // The records row last (WriteUndo relies on it).
  if (prev_seq != 0) {
    DS_ASSIGN_OR_RETURN(StmtRef up, Stmt(kUpdateRecordRowSql));
    up->Bind(1, r.local_version).Bind(2, r.rev).Bind(3, keys.hlc_key).BindStatic(4, r.subject_id).Bind(5, seq)
        .BindBlobStatic(6, raw_id);
    DS_RETURN_IF_ERROR(up->Run());
    if (db_->Changes() != 1) return NotFoundError("no record " + r.id);
  } else {
    DS_ASSIGN_OR_RETURN(StmtRef ins, Stmt(
        "INSERT INTO records(id, type, subject_id, local_version, rev, hlc_key, head) VALUES(?,?,?,?,?,?,?)"));
    ins->BindBlobStatic(1, raw_id).BindStatic(2, r.type).BindStatic(3, r.subject_id).Bind(4, r.local_version)
        .Bind(5, r.rev).Bind(6, keys.hlc_key).Bind(7, seq);
    DS_RETURN_IF_ERROR(ins->Run());
  }
  return seq;
}

Result<int64_t> Store::Impl::ReserveVersionSeq() {
  // The seq never repeats within a session (mutation ids embed it); it also
  // stays above every row present, even one another handle wrote, and at or
  // above queue_from: a version below it would count as pushed (a purge can
  // delete the newest rows, so the rows alone do not give that).
  int64_t seq = 0;
  if (!version_seq_current_) {
    DS_ASSIGN_OR_RETURN(StmtRef st, Stmt(
        "SELECT max(coalesce((SELECT max(seq) FROM versions), 0) + 1,"
        " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='queue_from'), 1))"));
    DS_ASSIGN_OR_RETURN(bool row, st->Step());
    seq = row ? st->ColumnInt(0) : 1;
    // Callers reserve inside a write transaction: until it ends, only this
    // connection adds version rows.
    version_seq_current_ = sqlite3_get_autocommit(db_->raw()) == 0;
  }
  seq = std::max(seq, next_version_seq_);
  if (seq > 0xffffffffLL) return ResourceExhaustedError("the version counter is exhausted");
  next_version_seq_ = seq + 1;
  return seq;
}

Result<int64_t> Store::Impl::QueueFrom() {
  DS_ASSIGN_OR_RETURN(int64_t from, GetMetaInt("queue_from", 1));
  return std::max<int64_t>(from, 1);
}

Status Store::Impl::Audit(std::string_view action, std::string_view record_id, const nlohmann::json& detail) {
  int64_t now = env_.clock->NowMillis();
  // The audit row's AD binds it to its action, record and time.
  std::string ad = "ds1|audit|" + std::string(action) + "|" + std::string(record_id) + "|" + std::to_string(now);
  DS_ASSIGN_OR_RETURN(std::string sealed, Seal(detail.dump(), ad));
  DS_ASSIGN_OR_RETURN(StmtRef st, Stmt("INSERT INTO audit(at_ms, action, record_id, version, detail) VALUES(?,?,?,NULL,?)"));
  st->Bind(1, now).Bind(2, action).Bind(3, record_id).BindBlob(4, sealed);
  return st->Run();
}

namespace {

// The transaction of one Add or Edit: its version row (its audit entry and
// queued mutation) and the records row commit or roll back together.
// Outside a batch it is a Transaction (BEGIN IMMEDIATE ... COMMIT). Inside a
// batch it opens no savepoint: SQLite copies every page a savepoint's
// statements change into its statement journal first (4 KB per b-tree leaf,
// three leaves per write), about a sixth of a bulk write's CPU. Instead a
// write that fails after writing its version row takes it back itself
// (`undo`), so the batch holds all of it or none, as with the savepoint;
// if taking them back fails too, the whole batch is rolled back (CommitBatch
// then fails). A failure that makes SQLite roll back the transaction itself
// (disk full, I/O error) ends the batch the same way, with or without a
// savepoint.
class RecordWriteTxn {
 public:
  static Result<RecordWriteTxn> Begin(Store::Impl& impl) {
    if (sqlite3_get_autocommit(impl.db().raw()) == 0) return RecordWriteTxn(impl, std::nullopt);
    DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl.db()));
    return RecordWriteTxn(impl, std::move(txn));
  }
  RecordWriteTxn(RecordWriteTxn&& o) noexcept
      : impl_(o.impl_), txn_(std::move(o.txn_)), undo_(std::move(o.undo_)), done_(std::exchange(o.done_, true)) {}
  RecordWriteTxn& operator=(RecordWriteTxn&&) = delete;
  ~RecordWriteTxn() {
    if (!done_ && !txn_) Undo();
  }
  // What the write has written (to pass to WriteVersion); undone on failure
  // inside a batch, ignored outside one (the transaction's rollback undoes).
  WriteUndo* undo() { return &undo_; }
  Status Commit() {
    done_ = true;
    return txn_ ? txn_->Commit() : Status::Ok();
  }

 private:
  RecordWriteTxn(Store::Impl& impl, std::optional<Transaction> txn) : impl_(&impl), txn_(std::move(txn)) {}

  void Undo() {
    Database& db = impl_->db();
    if (sqlite3_get_autocommit(db.raw()) != 0) return;  // SQLite already rolled the batch back
    const WriteUndo& u = undo_;
    auto run = [&](const char* sql, auto bind) -> bool {
      auto st = impl_->Stmt(sql);
      if (!st.ok()) return false;
      bind(**st);
      return (*st)->Run().ok() && db.Changes() == 1;
    };
    bool ok = true;
    if (u.version_seq != 0) {
      ok = run("DELETE FROM versions WHERE seq=?", [&](Statement& st) { st.Bind(1, u.version_seq); });
    }
    if (!ok) (void)db.Exec("ROLLBACK");  // all of the batch rather than part of this write
  }

  Store::Impl* impl_;
  std::optional<Transaction> txn_;
  WriteUndo undo_;
  bool done_ = false;
};

// Validates `r` as of `now_ms` and sets its flags; pep_update's
// duplicate_term needs the subject's other PEP updates (the connection).
// Reads neither the clock nor, for other types, the connection.
Result<ValidationResult> CheckRecord(Store::Impl& impl, Record& r, int64_t now_ms) {
  const RecordSchema* schema = SchemaRegistry::Default().Find(r.type);
  if (schema == nullptr) return InvalidArgumentError("unknown record type '" + r.type + "'");
  r.schema_version = schema->schema_version();
  ValidationResult v = Validate(*schema, r.fields, r.status, ValidationContext{now_ms});
  if (r.type == "pep_update") {
    if (auto key = PepTermKey(r.fields)) {
      DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
          "SELECT id FROM records WHERE subject_id=? AND type='pep_update' AND id<>?"));
      st.Bind(1, r.subject_id).BindBlob(2, RawId(r.id));
      while (true) {
        DS_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        DS_ASSIGN_OR_RETURN(Record other, impl.ReadCurrent(ToHex(st.ColumnBlob(0))));
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

}  // namespace

namespace {

// What writing a sealed local version needs beside the record and its
// sealed body: the rows' clear keys and the audit time.
struct WriteRow {
  VersionKeys keys;
  int64_t at_ms = 0;
};

// Add's arguments, checked before anything is made or written.
Status CheckAddArgs(std::string_view type, std::string_view subject_id, const nlohmann::json& fields,
                    std::string_view status) {
  DS_RETURN_IF_ERROR(CheckStatusValue(status));
  if (!IsOpaqueId(subject_id)) {
    return InvalidArgumentError("subject id must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (!fields.is_object()) return InvalidArgumentError("fields must be a JSON object");
  if (SchemaRegistry::Default().Find(type) == nullptr) {
    return InvalidArgumentError("unknown record type '" + std::string(type) + "'");
  }
  return Status::Ok();
}

// Seals local write `r` (stamped) into `*sealed` with the nonce of `ticket`
// (`*body`: plaintext scratch, wiped) and fills `*row`, `at_ms` being its
// audit time; reads neither the clock nor the connection.
Status SealLocalWrite(Store::Impl& impl, const Record& r, SealTicket ticket, int64_t at_ms, std::string* body,
                      std::string* sealed, WriteRow* row) {
  DS_RETURN_IF_ERROR(impl.SealVersion(r, "local", std::move(ticket), body, sealed));
  DS_ASSIGN_OR_RETURN(row->keys, VersionKeysOf(r));
  row->at_ms = at_ms;
  return Status::Ok();
}

// The ordered part of making a new record: its id, the clock's time (its
// created and updated time, the time it is validated at and its audit
// time), its HLC stamp and the nonce its first version is sealed with. Taken
// in the order the records are made, by whichever thread prepares them
// (AddMany's two take turns), so a call's ids, stamps and sealed bytes are
// those of as many Adds. A record that validation then refuses has used an
// id, a stamp and a nonce: gaps, never repeats.
Status StampNew(Store::Impl& impl, Record* r, SealTicket* ticket) {
  r->id = impl.NewId();
  const int64_t now = impl.env().clock->NowMillis();
  r->created_at = now;
  r->updated_at = now;
  DS_ASSIGN_OR_RETURN(r->hlc, impl.NextHlc());
  DS_ASSIGN_OR_RETURN(*ticket, impl.ReserveSeal());
  return Status::Ok();
}

// The rest of making the record StampNew stamped in out->record: the
// envelope and validation (flags and problems), then for a valid record its
// first version sealed into `*sealed` (`*body`: plaintext scratch, wiped)
// and `*row` filled. A refused record leaves out->record empty and its
// problems in `*out`. Reads neither the clock nor (but for a pep_update's
// duplicate-term flag) the connection, so AddMany runs it on both its
// threads at once.
Status FinishNew(Store::Impl& impl, const std::string& device_id, std::string_view type,
                 std::string_view subject_id, nlohmann::json&& fields, std::string_view status,
                 SealTicket ticket, std::string* body, std::string* sealed, WriteOutcome* out, WriteRow* row) {
  Record& r = out->record;
  r.type = std::string(type);
  r.subject_id = std::string(subject_id);
  r.status = std::string(status);
  r.fields = std::move(fields);
  r.author_id = impl.author_id;
  r.device_id = device_id;
  r.local_version = 1;
  DS_ASSIGN_OR_RETURN(ValidationResult v, CheckRecord(impl, r, r.created_at));
  out->flags = v.flags;
  if (!v.ok()) {
    out->problems = std::move(v.problems);
    r = Record();
    return Status::Ok();
  }
  return SealLocalWrite(impl, r, std::move(ticket), r.created_at, body, sealed, row);
}

// Makes a new record on this thread: StampNew, then FinishNew. Add, and
// AddMany one record at a time.
Status PrepareAdd(Store::Impl& impl, const std::string& device_id, std::string_view type,
                  std::string_view subject_id, nlohmann::json&& fields, std::string_view status, std::string* body,
                  std::string* sealed, WriteOutcome* out, WriteRow* row) {
  SealTicket ticket;
  DS_RETURN_IF_ERROR(StampNew(impl, &out->record, &ticket));
  return FinishNew(impl, device_id, type, subject_id, std::move(fields), status, std::move(ticket), body, sealed,
                   out, row);
}

// Writes a sealed local write's rows — its version (its audit entry and
// queued mutation) after version `prev_seq` (0: a new record) and its
// records row — in `txn`, which undoes them if the write fails part way.
// Add, AddMany and Edit all write through it.
Status InsertLocalWrite(Store::Impl& impl, const Record& r, const WriteRow& row, std::string_view sealed,
                        int64_t prev_seq, VersionAction action, RecordWriteTxn& txn) {
  return impl.InsertVersion(r, row.keys, sealed, prev_seq, action, row.at_ms, txn.undo()).status();
}

// `f()`'s status, or an error for what it throws. Not what(): it may quote
// a record's content. Nothing may leave AddMany's helper thread by an
// exception, and the calling thread's preparations fail the same way.
template <typename F>
Status Guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory preparing a record");
  } catch (...) {
    return InternalError("unexpected exception preparing a record");
  }
}

// AddMany's two threads. Preparing a record (validation, its body, sealing:
// CPU work that does not touch the connection) and writing it (SQLite) run
// side by side: a helper thread prepares records in call order, and the
// calling thread writes them in call order. When the record the calling
// thread is to write next is not ready, it prepares the next unclaimed
// record itself rather than wait; it waits only when every record up to the
// window is claimed. (The helper shares its core with the kernel writing
// the WAL back, so it alone falls behind the writer: docs/store.md.)
//
// Who touches what while the pipeline runs:
// - A record is claimed under `claim_mu_`, which also covers its StampNew
//   (the id stream, the HLC, the environment's clock and the sealer's
//   counter), so records are stamped in call order and those are touched by
//   one thread at a time.
// - The rest of a record's preparation (FinishNew) runs unlocked on the
//   claiming thread; it reads the schema registry (const) and seals (the
//   sealer is safe concurrently), and writes only its own record's slot,
//   input and outcome.
// - The calling thread alone uses the connection, its statements and the
//   version counter.
// - A prepared record passes to the calling thread through its slot's
//   `ready` (release/acquire). A thread sleeps on `cv_` only when it cannot
//   go on, and the other then wakes it: the *_waiting_ flags, `ready` and
//   the counters are sequentially consistent, so one of the two always sees
//   the other's store.
class AddPipeline {
 public:
  // At most this many records claimed and not yet written (their sealed
  // bodies and rows are kept in a ring of this many slots).
  static constexpr size_t kWindow = 256;

  AddPipeline(Store::Impl& impl, const std::string& device_id, std::vector<NewRecord>& in,
              std::vector<WriteOutcome>& out)
      : impl_(impl), device_id_(device_id), in_(in), out_(out), slots_(new Slot[kWindow]) {}
  ~AddPipeline() { Stop(); }
  AddPipeline(const AddPipeline&) = delete;
  AddPipeline& operator=(const AddPipeline&) = delete;

  // Hands the pipeline's preparing to `helper` (nullptr: none; the calling
  // thread then prepares every record itself, in Ready).
  void Start(AddHelper* helper);
  // Stops the helper's work on this pipeline (it ends after its current
  // record) and waits until it has left it.
  void Stop();
  // Returns when record `i` is prepared, preparing later records itself
  // meanwhile; its preparation's status. REQUIRES: records [0, i) written.
  Status Ready(size_t i) {
    Slot& slot = slots_[i % kWindow];
    while (slot.ready.load(std::memory_order_acquire) != i + 1) {
      if (PrepareNext(&body_)) continue;
      SleepUntil(&writer_waiting_, [&] { return slot.ready == i + 1; });
    }
    return slot.status;
  }
  std::string_view Sealed(size_t i) const { return slots_[i % kWindow].sealed; }
  const WriteRow& Row(size_t i) const { return slots_[i % kWindow].row; }
  // Record `i` is written: its slot may take another record.
  void Written(size_t i) {
    written_ = i + 1;
    if (helper_waiting_) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }

 private:
  struct Slot {
    std::string sealed;
    WriteRow row;
    Status status = Status::Ok();  // its preparation's (set before ready)
    std::atomic<size_t> ready{0};  // i + 1 once record i is prepared here
    SealTicket ticket;             // between Claim and Prepare, on the claiming thread
  };

  // Claims the next record (`*i`) and stamps it (StampNew), if one is left
  // within the window and no preparation has failed. A failed stamp is
  // that record's status (Prepare passes it on).
  bool Claim(size_t* i) {
    std::lock_guard<std::mutex> lock(claim_mu_);
    const size_t n = next_;
    if (failed_ || n >= in_.size() || n >= written_ + kWindow) return false;
    Slot& slot = slots_[n % kWindow];
    slot.status = Guarded([&] { return StampNew(impl_, &out_[n].record, &slot.ticket); });
    if (!slot.status.ok()) failed_ = true;
    next_ = n + 1;
    *i = n;
    return true;
  }
  // Prepares claimed record `i` (`*body`: this thread's plaintext scratch)
  // and hands it to the calling thread.
  void Prepare(size_t i, std::string* body) {
    Slot& slot = slots_[i % kWindow];
    if (slot.status.ok()) {
      NewRecord& n = in_[i];
      slot.status = Guarded([&] {
        return FinishNew(impl_, device_id_, n.type, n.subject_id, std::move(n.fields), n.status,
                         std::move(slot.ticket), body, &slot.sealed, &out_[i], &slot.row);
      });
      if (!slot.status.ok()) {
        std::lock_guard<std::mutex> lock(claim_mu_);
        failed_ = true;  // nothing more is claimed: the calling thread stops at this record
      }
    }
    slot.ticket = SealTicket();
    slot.ready = i + 1;
    if (writer_waiting_) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  friend class ::doorstep::core::AddHelper;
  // The helper thread: claims and prepares records until none is left or it
  // is stopped; sleeps while the window is full.
  void Help() {
    std::string body;
    body.reserve(2048);
    while (!stopping_) {
      if (PrepareNext(&body)) continue;
      // Claim refused: all claimed, a failure, or the window full. Only the
      // last can change (as records are written): wait for that.
      SleepUntil(&helper_waiting_,
                 [&] { return stopping_ || failed_ || next_ >= in_.size() || next_ < written_ + kWindow; });
      if (failed_ || next_ >= in_.size()) return;
    }
  }
  // Claims the next record and prepares it; false if none could be claimed.
  bool PrepareNext(std::string* body) {
    size_t i = 0;
    if (!Claim(&i)) return false;
    Prepare(i, body);
    return true;
  }
  // Sleeps on cv_ until `done()`, with `*waiting` set meanwhile so that the
  // other thread wakes it.
  template <typename Done>
  void SleepUntil(std::atomic<bool>* waiting, Done done) {
    std::unique_lock<std::mutex> lock(mu_);
    *waiting = true;
    cv_.wait(lock, done);
    *waiting = false;
  }

  Store::Impl& impl_;
  const std::string& device_id_;
  std::vector<NewRecord>& in_;
  std::vector<WriteOutcome>& out_;
  std::unique_ptr<Slot[]> slots_;
  std::string body_;  // the calling thread's plaintext scratch
  AddHelper* helper_ = nullptr;  // running Help for this pipeline, if any
  std::mutex claim_mu_;
  // Changed under claim_mu_ only (Claim decides under it); read outside it
  // by the helper deciding whether to sleep.
  std::atomic<size_t> next_{0};       // the next record to claim
  std::atomic<bool> failed_{false};   // a preparation failed
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<size_t> written_{0};  // records [0, written_) are written
  std::atomic<bool> stopping_{false};
  std::atomic<bool> writer_waiting_{false}, helper_waiting_{false};
};

}  // namespace

// AddMany's helper thread (Store::Impl::add_helper): runs one pipeline's
// Help per AddMany call and sleeps between calls. A thread started and
// joined in every call cost about 100 µs a call (docs/store.md).
class AddHelper {
 public:
  // Throws std::system_error if no thread can be started.
  AddHelper() : thread_([this] { Loop(); }) {}
  ~AddHelper() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  AddHelper(const AddHelper&) = delete;
  AddHelper& operator=(const AddHelper&) = delete;

  // Runs `job->Help()` on the helper thread. REQUIRES: no job posted.
  void Post(AddPipeline* job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = job;
    }
    cv_.notify_all();
  }
  // Returns once the posted job's Help has returned.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return job_ == nullptr; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return quit_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // quit_ (only ever between jobs)
      AddPipeline* job = job_;
      lock.unlock();
      job->Help();
      lock.lock();
      job_ = nullptr;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  AddPipeline* job_ = nullptr;  // posted and not yet done
  bool quit_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

void AddPipeline::Start(AddHelper* helper) {
  helper_ = helper;
  if (helper_ != nullptr) helper_->Post(this);
}

void AddPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (helper_ != nullptr) helper_->Wait();
  helper_ = nullptr;
}

Result<WriteOutcome> Store::Add(std::string_view type, std::string_view subject_id,
                                const nlohmann::json& fields, std::string_view status) {
  return Add(type, subject_id, nlohmann::json(fields), status);
}

Result<WriteOutcome> Store::Add(std::string_view type, std::string_view subject_id, nlohmann::json&& fields,
                                std::string_view status) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  DS_RETURN_IF_ERROR(CheckAddArgs(type, subject_id, fields, status));
  WriteOutcome out;
  WriteRow row;
  DS_ASSIGN_OR_RETURN(RecordWriteTxn txn, RecordWriteTxn::Begin(*impl_));
  // Sealed into buffers kept by the store: a loop of Adds allocates them once.
  DS_RETURN_IF_ERROR(PrepareAdd(*impl_, device_id_, type, subject_id, std::move(fields), status,
                                impl_->body_scratch(), impl_->sealed_scratch(), &out, &row));
  if (!out.saved()) return out;
  DS_RETURN_IF_ERROR(InsertLocalWrite(*impl_, out.record, row, *impl_->sealed_scratch(), 0, kActionAdd, txn));
  DS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

AddHelper* Store::Impl::add_helper() {
  if (add_helper_ == nullptr) {
    try {
      add_helper_ = std::make_shared<AddHelper>();
    } catch (const std::system_error&) {
      return nullptr;  // AddMany goes on on one thread; the next call tries again
    }
  }
  return add_helper_.get();
}

Result<std::vector<WriteOutcome>> Store::AddMany(std::vector<NewRecord> records) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  bool reads_store = false;
  for (size_t i = 0; i < records.size(); ++i) {
    const NewRecord& n = records[i];
    if (Status s = CheckAddArgs(n.type, n.subject_id, n.fields, n.status); !s.ok()) {
      return s.Annotate("records[" + std::to_string(i) + "]");
    }
    reads_store = reads_store || n.type == "pep_update";
  }
  // Outside a batch, one transaction of their own: all of them or none.
  std::optional<Transaction> own;
  if (sqlite3_get_autocommit(impl_->db().raw()) != 0) {
    DS_ASSIGN_OR_RETURN(Transaction t, Transaction::Begin(impl_->db()));
    own.emplace(std::move(t));
  }
  std::vector<WriteOutcome> out(records.size());
  // A pep_update's check reads the store (the subject's other PEP updates,
  // the ones just written included), so a call holding one, or too few
  // records to gain from a second thread, goes one record at a time.
  const bool pipelined = !reads_store && records.size() >= kAddManyPipelineMin;
  std::optional<AddPipeline> pipeline;
  if (pipelined) {
    DS_RETURN_IF_ERROR(impl_->RecoverHlc());  // reads the connection: before the thread starts
    pipeline.emplace(*impl_, device_id_, records, out);
    pipeline->Start(impl_->add_helper());
  }
  WriteRow serial_row;
  for (size_t i = 0; i < records.size(); ++i) {
    Status s = Status::Ok();
    std::string_view sealed;
    const WriteRow* row = &serial_row;
    if (pipelined) {
      s = pipeline->Ready(i);
      sealed = pipeline->Sealed(i);
      row = &pipeline->Row(i);
    } else {
      NewRecord& n = records[i];
      s = PrepareAdd(*impl_, device_id_, n.type, n.subject_id, std::move(n.fields), n.status,
                     impl_->body_scratch(), impl_->sealed_scratch(), &out[i], &serial_row);
      sealed = *impl_->sealed_scratch();
    }
    if (s.ok() && out[i].saved()) {
      Result<RecordWriteTxn> txn = RecordWriteTxn::Begin(*impl_);
      s = txn.ok() ? InsertLocalWrite(*impl_, out[i].record, *row, sealed, 0, kActionAdd, *txn) : txn.status();
      if (s.ok()) s = txn->Commit();
    }
    if (pipelined) pipeline->Written(i);
    if (!s.ok()) return s.Annotate("records[" + std::to_string(i) + "]");
  }
  if (pipeline) pipeline->Stop();
  if (own) DS_RETURN_IF_ERROR(own->Commit());
  return out;
}

Result<WriteOutcome> Store::Edit(std::string_view id, const nlohmann::json& changes,
                                 std::optional<std::string> status) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  if (!changes.is_object()) return InvalidArgumentError("changes must be a JSON object");
  if (status) DS_RETURN_IF_ERROR(CheckStatusValue(*status));
  DS_ASSIGN_OR_RETURN(RecordWriteTxn txn, RecordWriteTxn::Begin(*impl_));
  DS_ASSIGN_OR_RETURN(RecordHead head, impl_->Head(id));
  DS_ASSIGN_OR_RETURN(Record r, impl_->ReadSeq(id, head.type, head.head));
  bool was_final = r.status == "final";
  if (was_final && status && *status == "draft") {
    return InvalidArgumentError("status: a final record cannot go back to draft; edit it to amend it");
  }
  // An edit that changes nothing writes nothing: no version and no mutation.
  // (Otherwise an empty edit of a final record would make a local amendment
  // that the server, seeing no change, never makes, and the device would keep
  // an envelope the server never sends back.)
  bool noop = !status || *status == r.status;
  for (auto it = changes.begin(); noop && it != changes.end(); ++it) {
    auto f = r.fields.find(it.key());
    noop = it->is_null() ? f == r.fields.end() : (f != r.fields.end() && *f == *it);
  }
  if (noop) {
    WriteOutcome out;
    out.flags = r.flags;
    out.record = std::move(r);
    return out;
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
  DS_ASSIGN_OR_RETURN(ValidationResult v, CheckRecord(*impl_, r, r.updated_at));
  out.flags = v.flags;
  if (!v.ok()) {
    out.problems = std::move(v.problems);
    return out;
  }
  DS_ASSIGN_OR_RETURN(r.hlc, impl_->NextHlc());
  DS_ASSIGN_OR_RETURN(SealTicket ticket, impl_->ReserveSeal());
  WriteRow row;
  DS_RETURN_IF_ERROR(SealLocalWrite(*impl_, r, std::move(ticket), r.updated_at, impl_->body_scratch(),
                                    impl_->sealed_scratch(), &row));
  DS_RETURN_IF_ERROR(InsertLocalWrite(*impl_, r, row, *impl_->sealed_scratch(), head.head,
                                      was_final ? kActionAmend : kActionEdit, txn));
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
      "SELECT id, type, head FROM records WHERE (?1 IS NULL OR subject_id=?1) "
      "AND (?2 IS NULL OR type=?2) ORDER BY subject_id, hlc_key"));
  if (filter.subject_id) st.Bind(1, *filter.subject_id); else st.BindNull(1);
  if (filter.type) st.Bind(2, *filter.type); else st.BindNull(2);
  std::vector<Record> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DS_ASSIGN_OR_RETURN(Record r, impl_->ReadSeq(ToHex(st.ColumnBlob(0)), st.ColumnText(1), st.ColumnInt(2)));
    out.push_back(std::move(r));
  }
  // The index orders by the stamps' time and counter; the text stamp (which
  // ends with the device id) breaks the rare ties exactly.
  std::stable_sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.subject_id != b.subject_id ? a.subject_id < b.subject_id : a.hlc < b.hlc;
  });
  return out;
}

Result<std::vector<HistoryEntry>> Store::History(std::string_view id) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  if (!IsRecordId(id)) return NotFoundError("no record " + std::string(id) + " (ids are 32 hex characters)");
  DS_ASSIGN_OR_RETURN(RecordHead head, impl_->Head(id));
  // Walk the version chain back from the current version, then oldest first.
  std::vector<Record> versions;
  for (int64_t seq = head.head; seq != 0;) {
    int64_t prev = 0;
    DS_ASSIGN_OR_RETURN(Record v, impl_->ReadSeq(id, head.type, seq, &prev));
    if (prev >= seq) return DataLossError("record " + std::string(id) + " has a broken version chain");
    versions.push_back(std::move(v));
    seq = prev;
  }
  std::vector<HistoryEntry> out;
  for (auto r = versions.rbegin(); r != versions.rend(); ++r) {
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
  // Queued: in their version rows from queue_from on, or (queued before
  // store format 4) in `pending`, which also holds the rejected ones.
  DS_ASSIGN_OR_RETURN(int64_t queue_from, impl_->QueueFrom());
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl_->db(),
      "SELECT (SELECT count(*) FROM pending WHERE state=0)"
      " + (SELECT count(*) FROM versions WHERE seq >= ?1 AND session IS NOT NULL),"
      " (SELECT count(*) FROM pending WHERE state=1),"
      " (SELECT count(*) FROM conflicts WHERE state='open'),"
      " (SELECT count(*) FROM records)"));
  st.Bind(1, queue_from);
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
      "SELECT p.seq, p.session, v.record, p.detail FROM pending p LEFT JOIN versions v ON v.seq = p.version "
      "WHERE p.state=1 ORDER BY p.seq"));
  while (true) {
    DS_ASSIGN_OR_RETURN(bool more, rj.Step());
    if (!more) break;
    std::string mutation_id = Impl::MutationId(rj.ColumnBlob(1), rj.ColumnInt(0));
    nlohmann::json d = {{"mutation_id", mutation_id}, {"record_id", ToHex(rj.ColumnBlob(2))}};
    if (!rj.ColumnIsNull(3)) {
      DS_ASSIGN_OR_RETURN(std::string plain, impl_->Open(rj.ColumnBlob(3), "ds1|pending|" + mutation_id));
      auto j = nlohmann::json::parse(plain, nullptr, false);
      if (j.is_object() && j.contains("reason")) d["reason"] = j["reason"];
    }
    s.rejected_details.push_back(std::move(d));
  }
  return s;
}

}  // namespace doorstep::core
