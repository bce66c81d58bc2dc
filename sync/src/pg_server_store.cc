// PostgreSQL ServerStore: opening, versioned migrations, transactions,
// the change sequence and the audit chain. docs/server-store.md.
#include "doorstep/sync/pg_server_store.h"

#include "audit_chain_internal.h"
#include "pg_server_store_internal.h"

namespace doorstep::sync {
namespace internal {
namespace {

using json = nlohmann::json;

constexpr char kKeyCheckPlain[] = "doorstep-server-data-key";
constexpr char kKeyCheckAd[] = "keycheck";
// pg_advisory_xact_lock key that serialises migrations of concurrent starts.
constexpr char kMigrateLock[] = "SELECT pg_advisory_xact_lock(4478237961)";

// Migration N (1-based) is kMigrations[N-1]; applied ones are recorded in
// schema_migrations. Never edit a released migration: append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE seq(id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
INSERT INTO seq(id, value) VALUES (1, 0);
CREATE TABLE practitioners(id TEXT PRIMARY KEY, role TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE enrolment_codes(
  code_hash BYTEA PRIMARY KEY, practitioner_id TEXT NOT NULL, role TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  used_at BIGINT NOT NULL DEFAULT 0, used_by TEXT NOT NULL DEFAULT '');
CREATE TABLE devices(
  device_id TEXT PRIMARY KEY, practitioner_id TEXT NOT NULL, role TEXT NOT NULL,
  public_key BYTEA NOT NULL UNIQUE, enrolled_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0, last_seen_at BIGINT NOT NULL DEFAULT 0);
CREATE TABLE caseload(
  practitioner_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  assigned_seq BIGINT NOT NULL, assigned_at BIGINT NOT NULL,
  PRIMARY KEY (practitioner_id, subject_id));
CREATE INDEX caseload_subject ON caseload(subject_id);
CREATE TABLE caseload_events(
  seq BIGINT PRIMARY KEY, practitioner_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  kind TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX caseload_events_by ON caseload_events(practitioner_id, subject_id, seq);
CREATE TABLE records(
  record_id TEXT PRIMARY KEY, type TEXT NOT NULL, subject_id TEXT NOT NULL,
  rev BIGINT NOT NULL, seq BIGINT NOT NULL);
CREATE INDEX records_seq ON records(seq);
CREATE INDEX records_subject ON records(subject_id, record_id);
CREATE TABLE revisions(
  record_id TEXT NOT NULL, rev BIGINT NOT NULL, seq BIGINT NOT NULL,
  mutation_id TEXT NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (record_id, rev));
CREATE TABLE mutations(
  mutation_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, record_id TEXT NOT NULL,
  outcome TEXT NOT NULL, rev BIGINT NOT NULL, result TEXT NOT NULL,
  received_at BIGINT NOT NULL);
CREATE TABLE conflicts(
  conflict_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, subject_id TEXT NOT NULL,
  state TEXT NOT NULL, seq BIGINT NOT NULL, opened_at BIGINT NOT NULL,
  resolved_at BIGINT NOT NULL DEFAULT 0, resolved_by TEXT NOT NULL DEFAULT '',
  payload BYTEA NOT NULL);
CREATE INDEX conflicts_seq ON conflicts(seq);
CREATE INDEX conflicts_record ON conflicts(record_id);
CREATE INDEX conflicts_subject ON conflicts(subject_id, seq);
CREATE TABLE audit(
  id BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
)sql",
    // 2: wrong enrolment codes, so the limit holds across server processes.
    R"sql(
CREATE TABLE wrong_codes(source TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX wrong_codes_by ON wrong_codes(source, at);
CREATE INDEX wrong_codes_at ON wrong_codes(at);
)sql",
};
constexpr int64_t kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

class PgServerStore : public ServerStore {
 public:
  explicit PgServerStore(std::unique_ptr<PgServerShared> shared) : shared_(std::move(shared)) {}

  Result<std::unique_ptr<ServerTxn>> Begin(TxnMode mode) override {
    DS_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, shared_->pool->Acquire());
    auto txn = std::make_unique<PgServerTxn>(shared_.get(), std::move(conn), mode);
    DS_RETURN_IF_ERROR(txn->Start());
    return std::unique_ptr<ServerTxn>(std::move(txn));
  }

 private:
  std::unique_ptr<PgServerShared> shared_;
};

// Runs pending migrations and checks (or, fresh, writes) the key check, in
// one transaction under the migration lock.
Status Migrate(PgConn& c, PgServerShared& sh, bool create) {
  DS_RETURN_IF_ERROR(c.Exec("BEGIN"));
  DS_RETURN_IF_ERROR(c.Exec(kMigrateLock));
  DS_ASSIGN_OR_RETURN(PgResult exists, c.Query("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  bool have = exists.rows() == 1 && exists.Text(0, 0) == "t";
  if (!have && !create) {
    (void)c.Exec("ROLLBACK");
    return NotFoundError("no Doorstep server store in that database (run `doorstep server init`)");
  }
  if (have && create) {
    (void)c.Exec("ROLLBACK");
    return FailedPreconditionError(
        "that database already holds a Doorstep server store: copy the existing server dir "
        "to run another server on it");
  }
  DS_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations("
                            "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"));
  DS_ASSIGN_OR_RETURN(PgResult v, c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  int64_t version = v.Int(0, 0);
  if (version > kSchemaVersion) {
    (void)c.Exec("ROLLBACK");
    return FailedPreconditionError("the database's schema (version " + std::to_string(version) +
                                   ") is newer than this server");
  }
  for (int64_t n = version + 1; n <= kSchemaVersion; ++n) {
    DS_RETURN_IF_ERROR(c.Exec(kMigrations[n - 1]));
    DS_RETURN_IF_ERROR(c.Query("INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                               {PgParam::Int(n), PgParam::Int(sh.env.clock->NowMillis())})
                           .status());
  }
  DS_ASSIGN_OR_RETURN(PgResult kc, c.Query("SELECT value FROM meta WHERE key = 'keycheck'"));
  if (kc.rows() == 0) {
    if (!create) return CorruptionError("postgres: not a Doorstep server store (no key check)");
    DS_ASSIGN_OR_RETURN(std::string sealed, sh.Seal(kKeyCheckPlain, kKeyCheckAd));
    DS_RETURN_IF_ERROR(c.Query("INSERT INTO meta(key, value) VALUES ('keycheck', $1)",
                               {PgParam::Bytes(sealed)})
                           .status());
  } else {
    auto plain = sh.sealer->Open(kc.Bytes(0, 0), kKeyCheckAd);
    if (!plain.ok() || *plain != kKeyCheckPlain) {
      (void)c.Exec("ROLLBACK");
      return UnauthenticatedError("the server data key does not open this database's store");
    }
  }
  return c.Commit();
}

}  // namespace

PgServerTxn::~PgServerTxn() {
  conn_->DiscardDeferred();
  if (open_) (void)conn_->Exec("ROLLBACK");
  shared_->pool->Release(std::move(conn_));
}

Status PgServerTxn::Start() {
  if (mode_ == TxnMode::kRead) {
    // One snapshot for the whole read (a pull's bound and its pages agree).
    DS_RETURN_IF_ERROR(conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    open_ = true;
    return Status::Ok();
  }
  // Writers: READ COMMITTED, and first the lock on the one sequence row.
  // Every writer holds it until it commits, so writers (in this and every
  // other process) run one at a time and commit in sequence order; each
  // statement after the lock sees everything committed before it.
  DS_RETURN_IF_ERROR(conn_->Exec("BEGIN ISOLATION LEVEL READ COMMITTED"));
  open_ = true;
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT value FROM seq WHERE id = 1 FOR UPDATE"));
  if (r.rows() != 1) return CorruptionError("postgres: sequence row missing");
  seq_ = static_cast<uint64_t>(r.Int(0, 0));
  return Status::Ok();
}

Result<PgResult> PgServerTxn::Q(const std::string& sql, const std::vector<PgParam>& params) {
  if (!open_) return FailedPreconditionError("transaction already finished");
  return conn_->Query(sql, params);
}

Status PgServerTxn::D(const std::string& sql, std::vector<PgParam> params) {
  if (!open_) return FailedPreconditionError("transaction already finished");
  return conn_->Defer(sql, std::move(params));
}

Status PgServerTxn::Commit() {
  if (!open_) return FailedPreconditionError("transaction already finished");
  if (seq_dirty_) {
    DS_RETURN_IF_ERROR(Q("UPDATE seq SET value = $1 WHERE id = 1",
                         {PgParam::Int(static_cast<int64_t>(*seq_))})
                           .status());
    seq_dirty_ = false;
  }
  open_ = false;
  return conn_->Commit();
}

Status PgServerTxn::RequireWrite() const {
  if (mode_ != TxnMode::kWrite) return InternalError("write in a read transaction");
  return Status::Ok();
}

Result<uint64_t> PgServerTxn::NextSeq() {
  DS_RETURN_IF_ERROR(RequireWrite());
  DS_ASSIGN_OR_RETURN(uint64_t current, MaxSeq());
  seq_ = current + 1;
  seq_dirty_ = true;
  return *seq_;
}

Result<uint64_t> PgServerTxn::MaxSeq() {
  if (seq_) return *seq_;
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT value FROM seq WHERE id = 1"));
  if (r.rows() != 1) return CorruptionError("postgres: sequence row missing");
  uint64_t v = static_cast<uint64_t>(r.Int(0, 0));
  seq_ = v;  // fixed for the snapshot (reads) or under the row lock (writes)
  return v;
}

Status PgServerTxn::AppendAudit(AuditEntry e) {
  DS_RETURN_IF_ERROR(RequireWrite());
  // The head is read under the writers' lock (Start), so no two
  // transactions, in any process, can chain onto the same entry.
  if (!audit_tail_) {
    DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"));
    audit_tail_.emplace(r.rows() ? static_cast<uint64_t>(r.Int(0, 0)) : 0,
                        r.rows() ? r.Text(0, 1) : kAuditGenesisHash);
  }
  e.id = audit_tail_->first + 1;
  e.prev_hash = audit_tail_->second;
  std::string details = ChainAuditEntry(&e);
  // Sent with the next statement that needs an answer (PgConn::Defer); a
  // failure then aborts the whole transaction.
  Status inserted = D("INSERT INTO audit(id, at, actor, action, details, prev_hash, hash) "
           "VALUES ($1, $2, $3, $4, $5, $6, $7)",
           {PgParam::Int(static_cast<int64_t>(e.id)), PgParam::Int(e.at), PgParam::Text(e.actor),
            PgParam::Text(e.action),
            PgParam::Text(details),
            PgParam::Text(e.prev_hash), PgParam::Text(e.hash)});
  if (inserted.ok()) {
    audit_tail_.emplace(e.id, std::move(e.hash));
  } else {
    audit_tail_.reset();
  }
  return inserted;
}

Result<std::vector<AuditEntry>> PgServerTxn::ReadAudit(uint64_t after, size_t limit) {
  DS_ASSIGN_OR_RETURN(PgResult r, Q("SELECT id, at, actor, action, details, prev_hash, hash "
                                    "FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
                                    {PgParam::Int(PgSeqArg(after)), PgParam::Int(PgSeqArg(limit))}));
  std::vector<AuditEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    AuditEntry e;
    e.id = static_cast<uint64_t>(r.Int(i, 0));
    e.at = r.Int(i, 1);
    e.actor = r.Text(i, 2);
    e.action = r.Text(i, 3);
    json d = json::parse(r.Text(i, 4), nullptr, false);
    e.details = d.is_discarded() ? json(r.Text(i, 4)) : std::move(d);
    e.prev_hash = r.Text(i, 5);
    e.hash = r.Text(i, 6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace internal

Result<std::unique_ptr<ServerStore>> OpenPgServerStore(const std::string& conninfo,
                                                       SecretBytes data_key, Env env, bool create,
                                                       size_t pool_size) {
  if (env.random == nullptr || env.clock == nullptr) return InvalidArgumentError("env incomplete");
  if (pool_size == 0) return InvalidArgumentError("pool size must be at least 1");
  auto shared = std::make_unique<internal::PgServerShared>();
  shared->env = env;
  DS_ASSIGN_OR_RETURN(core::Sealer sealer, core::Sealer::Create(std::move(data_key), *env.random));
  shared->sealer.emplace(std::move(sealer));
  shared->pool = std::make_unique<internal::PgPool>(conninfo, pool_size);
  DS_ASSIGN_OR_RETURN(std::unique_ptr<internal::PgConn> conn, shared->pool->Acquire());
  Status s = internal::Migrate(*conn, *shared, create);
  shared->pool->Release(std::move(conn));
  DS_RETURN_IF_ERROR(s);
  return std::unique_ptr<ServerStore>(new internal::PgServerStore(std::move(shared)));
}

}  // namespace doorstep::sync
