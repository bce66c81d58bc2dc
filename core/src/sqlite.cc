#include "doorstep/core/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <utility>

namespace doorstep::core {

Status SqliteStatus(int rc, std::string_view what, sqlite3* db) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* detail = sqlite3_errmsg(db);
    if (detail != nullptr && msg.find(detail) == std::string::npos) msg += std::string(" (") + detail + ")";
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return UnavailableError(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return CorruptionError(std::move(msg));
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return InvalidArgumentError(std::move(msg));
    case SQLITE_NOMEM:
      return ResourceExhaustedError(std::move(msg));
    default:
      return InternalError(std::move(msg));
  }
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, Mode mode,
                                                 const char* vfs) {
  struct stat st;
  if (mode != Mode::kCreate && ::stat(path.c_str(), &st) != 0) {
    return NotFoundError("no such file: " + path);
  }
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(rc, "cannot open " + path, db);
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() {
  for (CachedStmt& c : cached_) sqlite3_finalize(c.stmt);
  sqlite3_close_v2(db_);
}

Status Database::ExecCached(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  for (CachedStmt& c : cached_) {
    if (c.sql == sql) {
      stmt = c.stmt;
      break;
    }
  }
  if (stmt == nullptr) {
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(rc, "sqlite prepare", db_);
    cached_.push_back({sql, stmt});
  }
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  return SqliteStatus(rc == SQLITE_ROW ? SQLITE_DONE : rc, "sqlite exec", db_);
}

Status Database::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return SqliteStatus(rc, "sqlite exec", db_);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::Changes() const { return sqlite3_changes(db_); }

Result<Statement> Statement::Prepare(Database& db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db.raw(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "sqlite prepare", db.raw());
  return Statement(stmt, db.raw());
}

Statement::Statement(Statement&& o) noexcept
    : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_), bind_error_(std::move(o.bind_error_)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
    db_ = o.db_;
    bind_error_ = std::move(o.bind_error_);
  }
  return *this;
}

namespace {
// Every Bind* keeps the first failed bind's status for Run()/Step() to
// report (binding is chained, so the error cannot be returned at once).
Statement& KeepFirstBindError(int rc, sqlite3* db, Status* first, Statement& st) {
  if (rc != SQLITE_OK && first->ok()) *first = SqliteStatus(rc, "sqlite bind", db);
  return st;
}
}  // namespace

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Statement& Statement::Bind(int i, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Statement& Statement::BindBlob(int i, std::string_view blob) {
  int rc = sqlite3_bind_blob64(stmt_, i, blob.data(), blob.size(), SQLITE_TRANSIENT);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Statement& Statement::BindStatic(int i, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Statement& Statement::BindBlobStatic(int i, std::string_view blob) {
  int rc = sqlite3_bind_blob64(stmt_, i, blob.data(), blob.size(), SQLITE_STATIC);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Statement& Statement::BindNull(int i) {
  int rc = sqlite3_bind_null(stmt_, i);
  return KeepFirstBindError(rc, db_, &bind_error_, *this);
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, "sqlite step", db_);
}

Status Statement::Run() {
  DS_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Reset();
}

Status Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::Ok();
  return Status::Ok();
}

int64_t Statement::ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }

std::string Statement::ColumnText(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::string Statement::ColumnBlob(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  int n = sqlite3_column_bytes(stmt_, i);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

bool Statement::ColumnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

namespace {
// Transaction control, prepared once per connection (Database::ExecCached).
constexpr char kSavepoint[] = "SAVEPOINT ds_nested";
constexpr char kRelease[] = "RELEASE ds_nested";
constexpr char kRollbackTo[] = "ROLLBACK TO ds_nested";
constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
}  // namespace

Result<Transaction> Transaction::Begin(Database& db) {
  if (sqlite3_get_autocommit(db.raw()) == 0) {  // inside a batch: nest as a savepoint
    DS_RETURN_IF_ERROR(db.ExecCached(kSavepoint));
    return Transaction(&db, /*nested=*/true);
  }
  DS_RETURN_IF_ERROR(db.ExecCached(kBegin));
  return Transaction(&db, /*nested=*/false);
}

Transaction::Transaction(Transaction&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), nested_(o.nested_) {}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  if (nested_) {
    (void)db_->ExecCached(kRollbackTo);
    (void)db_->ExecCached(kRelease);
  } else {
    (void)db_->ExecCached(kRollback);
  }
}

Status Transaction::Commit() {
  if (db_ == nullptr) return FailedPreconditionError("transaction already finished");
  Status s = db_->ExecCached(nested_ ? kRelease : kCommit);
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace doorstep::core
