// SQLite ServerStore: opening, schema, transactions, sequence and audit.
// docs/server-store.md describes the schema.
#include <sys/stat.h>

#include <atomic>
#include <vector>

#include "audit_chain_internal.h"
#include "doorstep/core/crypto.h"
#include "sqlite_server_store_internal.h"
#include "doorstep/core/sqlite_wal_batch_vfs.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace internal {
namespace {

// Transaction control, prepared once per connection (Database::ExecCached).
constexpr char kBeginWrite[] = "BEGIN IMMEDIATE";
constexpr char kBeginRead[] = "BEGIN";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";

constexpr char kSchemaVersion[] = "1";
constexpr char kKeyCheckPlain[] = "doorstep-server-data-key";
constexpr char kKeyCheckAd[] = "keycheck";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seq(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO seq(id, value) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS practitioners(
  id TEXT PRIMARY KEY, role TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS enrolment_codes(
  code_hash BLOB PRIMARY KEY, practitioner_id TEXT NOT NULL, role TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL DEFAULT 0, used_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS devices(
  device_id TEXT PRIMARY KEY, practitioner_id TEXT NOT NULL, role TEXT NOT NULL,
  public_key BLOB NOT NULL UNIQUE, enrolled_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0, last_seen_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS caseload(
  practitioner_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  assigned_seq INTEGER NOT NULL, assigned_at INTEGER NOT NULL,
  PRIMARY KEY (practitioner_id, subject_id));
CREATE INDEX IF NOT EXISTS caseload_subject ON caseload(subject_id);
CREATE TABLE IF NOT EXISTS caseload_events(
  seq INTEGER PRIMARY KEY, practitioner_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  kind TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS caseload_events_by ON caseload_events(practitioner_id, subject_id, seq);
CREATE TABLE IF NOT EXISTS records(
  record_id TEXT PRIMARY KEY, type TEXT NOT NULL, subject_id TEXT NOT NULL,
  rev INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS records_seq ON records(seq);
CREATE INDEX IF NOT EXISTS records_subject ON records(subject_id, record_id);
CREATE TABLE IF NOT EXISTS revisions(
  record_id TEXT NOT NULL, rev INTEGER NOT NULL, seq INTEGER NOT NULL,
  mutation_id TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (record_id, rev));
CREATE TABLE IF NOT EXISTS mutations(
  mutation_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, record_id TEXT NOT NULL,
  outcome TEXT NOT NULL, rev INTEGER NOT NULL, result TEXT NOT NULL,
  received_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts(
  conflict_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  state TEXT NOT NULL, seq INTEGER NOT NULL, opened_at INTEGER NOT NULL,
  resolved_at INTEGER NOT NULL DEFAULT 0, resolved_by TEXT NOT NULL DEFAULT '',
  payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS conflicts_seq ON conflicts(seq);
CREATE INDEX IF NOT EXISTS conflicts_record ON conflicts(record_id);
CREATE INDEX IF NOT EXISTS conflicts_subject ON conflicts(subject_id, seq);
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
)sql";

// Added after schema 1; created on open so existing server.db files get
// them (the index is built once, on the first open by a newer binary).
constexpr char kWrongCodesSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS wrong_codes(source TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS wrong_codes_by ON wrong_codes(source, at);
CREATE INDEX IF NOT EXISTS wrong_codes_at ON wrong_codes(at);
CREATE INDEX IF NOT EXISTS records_subject_seq ON records(subject_id, seq);
)sql";

// Reader connections: one per server thread is enough (the writer is the
// group committer's).
constexpr size_t kReaders = 2;

class SqliteServerStore : public ServerStore {
 public:
  SqliteServerStore(std::unique_ptr<SqliteServerShared> writer,
                    std::vector<std::unique_ptr<SqliteServerShared>> readers,
                    std::unique_ptr<WalCheckpointer> checkpointer)
      : writer_(std::move(writer)),
        readers_(std::move(readers)),
        checkpointer_(std::move(checkpointer)) {}
  ~SqliteServerStore() override {
    checkpointer_.reset();  // unhooks the writer before it closes
    for (auto& r : readers_) {
      std::lock_guard<std::mutex> lock(r->mu);
      r->by_literal.clear();
      r->stmts.clear();
    }
    std::lock_guard<std::mutex> lock(writer_->mu);
    writer_->by_literal.clear();
    writer_->stmts.clear();  // finalize before the connection closes
  }

  Result<std::unique_ptr<ServerTxn>> Begin(TxnMode mode) override {
    SqliteServerShared* conn = writer_.get();
    std::unique_lock<std::mutex> lock;
    if (mode == TxnMode::kRead && !readers_.empty()) {
      // A free reader if there is one, else wait for one in turn.
      for (auto& r : readers_) {
        lock = std::unique_lock<std::mutex>(r->mu, std::try_to_lock);
        if (lock.owns_lock()) {
          conn = r.get();
          break;
        }
      }
      if (!lock.owns_lock()) {
        conn = readers_[next_reader_.fetch_add(1) % readers_.size()].get();
        lock = std::unique_lock<std::mutex>(conn->mu);
      }
    } else {
      lock = std::unique_lock<std::mutex>(conn->mu);
    }
    DS_RETURN_IF_ERROR(conn->db->ExecCached(mode == TxnMode::kWrite ? kBeginWrite : kBeginRead));
    return std::unique_ptr<ServerTxn>(new SqliteServerTxn(conn, std::move(lock), mode));
  }

 private:
  std::unique_ptr<SqliteServerShared> writer_;
  std::vector<std::unique_ptr<SqliteServerShared>> readers_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::atomic<size_t> next_reader_{0};
};

Status CheckDataKey(SqliteServerShared& sh, bool fresh) {
  DS_ASSIGN_OR_RETURN(core::Statement get,
                      core::Statement::Prepare(*sh.db, "SELECT value FROM meta WHERE key = ?"));
  get.Bind(1, std::string_view("keycheck"));
  DS_ASSIGN_OR_RETURN(bool row, get.Step());
  if (!row) {
    if (!fresh) return CorruptionError("server.db is not a Doorstep server store");
    DS_ASSIGN_OR_RETURN(std::string sealed, sh.sealer->Seal(kKeyCheckPlain, kKeyCheckAd));
    DS_ASSIGN_OR_RETURN(core::Statement put,
                        core::Statement::Prepare(*sh.db, "INSERT INTO meta(key, value) VALUES (?, ?)"));
    put.Bind(1, std::string_view("keycheck")).BindBlob(2, sealed);
    DS_RETURN_IF_ERROR(put.Run());
    put.Bind(1, std::string_view("schema_version")).Bind(2, std::string_view(kSchemaVersion));
    return put.Run();
  }
  auto plain = sh.sealer->Open(get.ColumnBlob(0), kKeyCheckAd);
  if (!plain.ok() || *plain != kKeyCheckPlain) {
    return UnauthenticatedError("the server data key does not open server.db");
  }
  return Status::Ok();
}

}  // namespace

SqliteServerTxn::~SqliteServerTxn() {
  if (open_) (void)shared_->db->ExecCached(kRollback);
}

Status SqliteServerTxn::Commit() {
  if (!open_) return FailedPreconditionError("transaction already finished");
  if (seq_dirty_) {
    DS_ASSIGN_OR_RETURN(core::Statement* st, Stmt("UPDATE seq SET value = ? WHERE id = 1"));
    StmtRef r(st);
    r->Bind(1, static_cast<int64_t>(*seq_));
    DS_RETURN_IF_ERROR(r->Run());
    seq_dirty_ = false;
  }
  for (auto& [sql, st] : shared_->stmts) (void)st.Reset();
  Status s = shared_->db->ExecCached(kCommit);
  if (s.ok()) open_ = false;
  return s;
}

Status SqliteServerTxn::RequireWrite() const {
  if (mode_ != TxnMode::kWrite) return InternalError("write in a read transaction");
  return Status::Ok();
}

Result<core::Statement*> SqliteServerTxn::Stmt(const std::string& sql) {
  auto it = shared_->stmts.find(sql);
  if (it == shared_->stmts.end()) {
    DS_ASSIGN_OR_RETURN(core::Statement st, core::Statement::Prepare(*shared_->db, sql));
    it = shared_->stmts.emplace(sql, std::move(st)).first;
  }
  DS_RETURN_IF_ERROR(it->second.Reset());
  return &it->second;
}

Result<core::Statement*> SqliteServerTxn::Stmt(const char* sql) {
  auto it = shared_->by_literal.find(sql);
  if (it != shared_->by_literal.end()) {
    DS_RETURN_IF_ERROR(it->second->Reset());
    return it->second;
  }
  DS_ASSIGN_OR_RETURN(core::Statement* st, Stmt(std::string(sql)));
  shared_->by_literal.emplace(sql, st);  // std::map nodes do not move
  return st;
}

Result<uint64_t> SqliteServerTxn::NextSeq() {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(uint64_t current, MaxSeq());
  seq_ = current + 1;
  seq_dirty_ = true;
  return *seq_;
}

Result<uint64_t> SqliteServerTxn::MaxSeq() {
  if (seq_) return *seq_;
  DS_ASSIGN_OR_RETURN(core::Statement* s, Stmt("SELECT value FROM seq WHERE id = 1"));
  StmtRef r(s);
  DS_ASSIGN_OR_RETURN(bool row, r->Step());
  if (!row) return CorruptionError("server.db: sequence row missing");
  uint64_t v = static_cast<uint64_t>(r->ColumnInt(0));
  if (mode_ == TxnMode::kWrite) seq_ = v;  // a read snapshot may be re-read
  return v;
}

Status SqliteServerTxn::AppendAudit(AuditEntry e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  if (!audit_tail_) {
    // Read once per transaction (writers are serialised, so it stays the
    // tail until this transaction ends); later entries chain in memory.
    DS_ASSIGN_OR_RETURN(core::Statement* s,
                        Stmt("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"));
    StmtRef r(s);
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    audit_tail_.emplace(row ? static_cast<uint64_t>(r->ColumnInt(0)) : 0,
                        row ? r->ColumnText(1) : kAuditGenesisHash);
  }
  e.id = audit_tail_->first + 1;
  e.prev_hash = audit_tail_->second;
  std::string details = ChainAuditEntry(&e);
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("INSERT INTO audit(id, at, actor, action, details, prev_hash, hash) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  StmtRef r(s);
  r->Bind(1, static_cast<int64_t>(e.id)).Bind(2, e.at).Bind(3, e.actor).Bind(4, e.action);
  r->Bind(5, details).Bind(6, e.prev_hash).Bind(7, e.hash);
  Status inserted = r->Run();
  if (inserted.ok()) {
    audit_tail_.emplace(e.id, std::move(e.hash));
  } else {
    audit_tail_.reset();
  }
  return inserted;
}

Result<std::vector<AuditEntry>> SqliteServerTxn::ReadAudit(uint64_t after, size_t limit) {
  DS_ASSIGN_OR_RETURN(core::Statement* s,
                      Stmt("SELECT id, at, actor, action, details, prev_hash, hash FROM audit "
                           "WHERE id > ? ORDER BY id LIMIT ?"));
  StmtRef r(s);
  r->Bind(1, static_cast<int64_t>(after)).Bind(2, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, r->Step());
    if (!row) break;
    AuditEntry e;
    e.id = static_cast<uint64_t>(r->ColumnInt(0));
    e.at = r->ColumnInt(1);
    e.actor = r->ColumnText(2);
    e.action = r->ColumnText(3);
    json d = json::parse(r->ColumnText(4), nullptr, false);
    // A row that no longer parses keeps its text, so Verify reports it broken.
    e.details = d.is_discarded() ? json(r->ColumnText(4)) : std::move(d);
    e.prev_hash = r->ColumnText(5);
    e.hash = r->ColumnText(6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace internal

Result<std::unique_ptr<ServerStore>> OpenSqliteServerStore(const std::string& dir,
                                                           SecretBytes data_key, Env env,
                                                           bool create) {
  if (env.random == nullptr || env.clock == nullptr) return InvalidArgumentError("env incomplete");
  auto shared = std::make_unique<internal::SqliteServerShared>();
  shared->env = env;
  DS_ASSIGN_OR_RETURN(core::Sealer sealer, core::Sealer::Create(std::move(data_key), *env.random));
  shared->sealer = std::make_shared<core::Sealer>(std::move(sealer));
  std::string path = dir + "/server.db";
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (!exists && !create) return NotFoundError("no server store in " + dir);
  // The writer gathers each commit's WAL writes (doorstep/core/sqlite_wal_batch_vfs.h).
  DS_ASSIGN_OR_RETURN(const char* vfs, core::internal::WalBatchVfs());
  DS_ASSIGN_OR_RETURN(shared->db, core::Database::Open(path, exists ? core::Database::Mode::kReadWrite
                                                                    : core::Database::Mode::kCreate,
                                                       vfs));
  if (!exists) ::chmod(path.c_str(), 0600);
  DS_RETURN_IF_ERROR(shared->db->Exec("PRAGMA journal_mode=WAL"));
  DS_RETURN_IF_ERROR(shared->db->Exec("PRAGMA synchronous=FULL"));
  DS_RETURN_IF_ERROR(shared->db->Exec("PRAGMA foreign_keys=ON"));
  DS_RETURN_IF_ERROR(shared->db->Exec("PRAGMA secure_delete=ON"));
  // The writer's page cache: 16 MB, above SQLite's 2 MB default so the hot
  // index pages of a busy push phase stay in the process; pages beyond it
  // come back from the kernel's page cache. 64 MB (until session 7) cost
  // 15-20 MB of server RSS in `bench server --devices 200` (70-82 MB -> 55-63)
  // and bought no speed: push CPU 1.29-1.69 s vs 1.13-1.19, first sync of
  // 10k records 20.8k-25.2k vs 23.3k-28.1k records/s, alternated runs.
  DS_RETURN_IF_ERROR(shared->db->Exec("PRAGMA cache_size=-16384"));
  {
    DS_ASSIGN_OR_RETURN(core::Transaction txn, core::Transaction::Begin(*shared->db));
    if (!exists) DS_RETURN_IF_ERROR(shared->db->Exec(internal::kSchema));
    DS_RETURN_IF_ERROR(shared->db->Exec(internal::kWrongCodesSchema));
    Status s = internal::CheckDataKey(*shared, !exists);
    if (!s.ok()) {
      // A file that is no SQLite database at all fails above in Exec/Prepare.
      return s;
    }
    DS_RETURN_IF_ERROR(txn.Commit());
  }
  std::vector<std::unique_ptr<internal::SqliteServerShared>> readers;
  for (size_t i = 0; i < internal::kReaders; ++i) {
    auto r = std::make_unique<internal::SqliteServerShared>();
    r->env = env;
    r->sealer = shared->sealer;
    DS_ASSIGN_OR_RETURN(r->db, core::Database::Open(path, core::Database::Mode::kReadWrite));
    DS_RETURN_IF_ERROR(r->db->Exec("PRAGMA query_only=1"));
    DS_RETURN_IF_ERROR(r->db->Exec("PRAGMA cache_size=-8192"));
    readers.push_back(std::move(r));
  }
  DS_ASSIGN_OR_RETURN(std::unique_ptr<internal::WalCheckpointer> checkpointer,
                      internal::WalCheckpointer::Start(path, *shared->db));
  return std::unique_ptr<ServerStore>(new internal::SqliteServerStore(
      std::move(shared), std::move(readers), std::move(checkpointer)));
}

}  // namespace doorstep::sync
