// A thin libpq layer for the PostgreSQL ServerStore: one connection with its
// cache of prepared statements, query results, and a small per-process pool.
// Private to sync/.
//
// Parameters go as text, except bytea ones, which go in binary; results come
// back as text (bytea in PostgreSQL's hex form, decoded by PgResult::Bytes).
//
// Thread safety: a PgConn belongs to one thread at a time (the pool hands it
// out); PgPool is safe to use from any thread.
#ifndef DOORSTEP_SYNC_PG_CONN_H_
#define DOORSTEP_SYNC_PG_CONN_H_

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "doorstep/core/status.h"

namespace doorstep::sync::internal {

// One query parameter.
struct PgParam {
  std::string value;
  bool binary = false;  // bytea
  static PgParam Text(std::string_view v) { return PgParam{std::string(v), false}; }
  static PgParam Int(int64_t v) { return PgParam{std::to_string(v), false}; }
  static PgParam Bytes(std::string_view v) { return PgParam{std::string(v), true}; }
};

// Owns a PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  // Rows touched by an INSERT/UPDATE/DELETE.
  int64_t affected() const;
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  // A bytea column; empty if it does not decode (never for our own rows).
  std::string Bytes(int row, int col) const;
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  PGresult* get() const { return r_.get(); }

 private:
  std::shared_ptr<PGresult> r_;
};

class PgConn {
 public:
  // Connects; kUnavailable if the server cannot be reached, kInvalidArgument
  // for a malformed conninfo.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs `sql` as a prepared statement (prepared on first use on this
  // connection). Errors map SQLSTATEs to status codes: unique violations →
  // kInvalidArgument; serialisation failures, deadlocks, lock timeouts and
  // lost connections → kUnavailable; the rest → kInternal.
  Result<PgResult> Query(const std::string& sql, const std::vector<PgParam>& params = {});
  // Queues `sql` (a write whose result the caller does not need) to go
  // with the next Query, Exec or Commit in one round trip (libpq pipeline
  // mode, pg_pipeline.cc). That call returns the queued statement's error,
  // if any (the transaction is then aborted, as after any failed statement).
  Status Defer(const std::string& sql, std::vector<PgParam> params);
  // Forgets queued statements (before ROLLBACK).
  void DiscardDeferred() { deferred_.clear(); }
  // Runs one or more statements without parameters (BEGIN, DDL, ...).
  Status Exec(const std::string& sql);
  // COMMIT; kUnavailable if the server rolled back instead.
  Status Commit();
  // True if the connection is usable and idle (no transaction open).
  bool Healthy() const;

 private:
  struct Deferred {
    std::string name;  // prepared statement
    std::vector<PgParam> params;
  };
  explicit PgConn(PGconn* c) : c_(c) {}
  Status ErrorFrom(PGresult* r, const std::string& what) const;
  // The prepared statement's name for `sql`, preparing it on first use.
  Result<std::string> Prepare(const std::string& sql);
  // Sends the queued statements, then `name` with `params` unless `name` is
  // empty, in one pipeline; returns the last one's result or the first error.
  Result<PgResult> RunPipeline(const std::string& name, const std::vector<PgParam>& params);

  PGconn* c_;
  std::map<std::string, std::string> prepared_;  // sql -> statement name
  std::vector<Deferred> deferred_;
};

// Up to `max` connections, opened on demand and reused.
class PgPool {
 public:
  PgPool(std::string conninfo, size_t max) : conninfo_(std::move(conninfo)), max_(max) {}
  // A connection, waiting while all `max` are in use.
  Result<std::unique_ptr<PgConn>> Acquire();
  // Returns a connection; a broken or still-in-transaction one is closed.
  void Release(std::unique_ptr<PgConn> c);

 private:
  std::string conninfo_;
  size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;  // guarded by mu_
  size_t open_ = 0;                            // guarded by mu_
};

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_PG_CONN_H_
