// A thin RAII layer over SQLite's C API, shared by the device store and the
// server's SQLite storage. Database owns a sqlite3*; Statement finalizes
// itself; Transaction rolls back unless Commit() succeeded. SQLite result
// codes become Status at the call site (busy/locked → kUnavailable,
// corrupt/notadb → kCorruption, I/O and full → kUnavailable, constraint →
// kInvalidArgument, others kInternal).
// Thread safety: a Database and its Statements belong to one thread at a time.
#ifndef DOORSTEP_CORE_SQLITE_H_
#define DOORSTEP_CORE_SQLITE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "doorstep/core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace doorstep::core {

// Status for SQLite result code `rc` with `what` as context.
Status SqliteStatus(int rc, std::string_view what, sqlite3* db = nullptr);

class Database {
 public:
  enum class Mode { kReadWrite, kCreate, kReadOnly };
  // Opens `path`. kNotFound if it does not exist and mode is not kCreate.
  // `vfs`: a registered SQLite VFS by name (nullptr: the default).
  static Result<std::unique_ptr<Database>> Open(const std::string& path, Mode mode,
                                                const char* vfs = nullptr);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // Runs one statement without results, keeping it prepared for the next call
  // with the same `sql` pointer (a string literal: transaction control in hot
  // paths). Returns the statement's error as Status.
  Status ExecCached(const char* sql);
  int64_t LastInsertRowId() const;
  int Changes() const;
  sqlite3* raw() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  struct CachedStmt {
    const char* sql;
    sqlite3_stmt* stmt;
  };
  std::vector<CachedStmt> cached_;
};

class Statement {
 public:
  static Result<Statement> Prepare(Database& db, std::string_view sql);
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds are 1-based, as in SQLite. Text/blob are copied (SQLITE_TRANSIENT).
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, std::string_view text);
  Statement& BindBlob(int i, std::string_view blob);
  Statement& BindNull(int i);
  // As Bind/BindBlob, without the copy (SQLITE_STATIC), for hot writes.
  // REQUIRES: the bytes stay valid and unchanged until the statement is
  // reset or rebound (Run() and Reset() both reset it).
  Statement& BindStatic(int i, std::string_view text);
  Statement& BindBlobStatic(int i, std::string_view blob);

  // Steps once: true if a row is ready, false when done; errors as Status.
  Result<bool> Step();
  // Steps to completion, expecting no rows.
  Status Run();
  Status Reset();  // reset and clear bindings, for reuse

  int64_t ColumnInt(int i) const;
  std::string ColumnText(int i) const;
  std::string ColumnBlob(int i) const;
  bool ColumnIsNull(int i) const;

 private:
  Statement(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  Status bind_error_;
};

// BEGIN IMMEDIATE on construction via Begin(); rolls back on destruction
// unless Commit() succeeded. Inside an already open transaction (a store
// batch) it is a savepoint instead: Commit() releases it, destruction rolls
// back to it, and the outer transaction decides durability.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db);
  Transaction(Transaction&& o) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status Commit();

 private:
  Transaction(Database* db, bool nested) : db_(db), nested_(nested) {}
  Database* db_ = nullptr;
  bool nested_ = false;
};

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_SQLITE_H_
