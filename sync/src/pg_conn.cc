#include "pg_conn.h"

#include <cstdlib>
#include <cstring>

#include "doorstep/core/crypto.h"

namespace doorstep::sync::internal {

int64_t PgResult::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

std::string PgResult::Text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

std::string PgResult::Bytes(int row, int col) const {
  std::string t = Text(row, col);
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return std::string();
  auto raw = core::FromHex(std::string_view(t).substr(2));
  return raw.ok() ? std::move(raw).value() : std::string();
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? err : "bad connection string";
    PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return InvalidArgumentError("--postgres: " + msg);
  }
  PQconninfoFree(opts);
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr) return UnavailableError("postgres: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return UnavailableError("postgres: cannot connect: " + msg);
  }
  std::unique_ptr<PgConn> conn(new PgConn(c));
  // Quiet notices; bounded waits for locks (as SQLite's busy_timeout).
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  DS_RETURN_IF_ERROR(conn->Exec("SET client_encoding = 'UTF8'; SET lock_timeout = '10s'; "
                                "SET idle_in_transaction_session_timeout = '60s'"));
  return conn;
}

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

bool PgConn::Healthy() const {
  return PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE;
}

Status PgConn::ErrorFrom(PGresult* r, const std::string& what) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? state : "";
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  msg = "postgres: " + what + ": " + msg;
  if (code == "23505" || code == "23514") return InvalidArgumentError(msg);  // unique, check
  if (code == "40001" || code == "40P01" || code == "55P03" || code == "57014" ||
      code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 || PQstatus(c_) != CONNECTION_OK) {
    return UnavailableError(msg);
  }
  return InternalError(msg);
}

Result<std::string> PgConn::Prepare(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  if (!deferred_.empty()) DS_RETURN_IF_ERROR(RunPipeline("", {}).status());
  std::string name = "ds" + std::to_string(prepared_.size() + 1);
  PGresult* p = PQprepare(c_, name.c_str(), sql.c_str(), 0, nullptr);
  PgResult prep(p);
  if (!p || PQresultStatus(p) != PGRES_COMMAND_OK) return ErrorFrom(p, "prepare");
  prepared_.emplace(sql, name);
  return name;
}

Result<PgResult> PgConn::Query(const std::string& sql, const std::vector<PgParam>& params) {
  DS_ASSIGN_OR_RETURN(std::string name, Prepare(sql));
  if (!deferred_.empty()) return RunPipeline(name, params);
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].value.data();
    lengths[i] = static_cast<int>(params[i].value.size());
    formats[i] = params[i].binary ? 1 : 0;
  }
  PGresult* r = PQexecPrepared(c_, name.c_str(), static_cast<int>(params.size()),
                               values.data(), lengths.data(), formats.data(), 0);
  PgResult res(r);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return ErrorFrom(r, "query");
  return res;
}

Status PgConn::Exec(const std::string& sql) {
  if (!deferred_.empty()) DS_RETURN_IF_ERROR(RunPipeline("", {}).status());
  PGresult* r = PQexec(c_, sql.c_str());
  PgResult res(r);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return ErrorFrom(r, "exec");
  return Status::Ok();
}

Status PgConn::Commit() {
  if (!deferred_.empty()) DS_RETURN_IF_ERROR(RunPipeline("", {}).status());
  PGresult* r = PQexec(c_, "COMMIT");
  PgResult res(r);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return ErrorFrom(r, "commit");
  if (std::strcmp(PQcmdStatus(r), "COMMIT") != 0) {
    return UnavailableError("postgres: the transaction was rolled back");
  }
  return Status::Ok();
}

Result<std::unique_ptr<PgConn>> PgPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++open_;
  lock.unlock();
  auto c = PgConn::Connect(conninfo_);
  if (!c.ok()) {
    lock.lock();
    --open_;
    cv_.notify_one();
  }
  return c;
}

void PgPool::Release(std::unique_ptr<PgConn> c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (c && c->Healthy()) {
    idle_.push_back(std::move(c));
  } else {
    c.reset();
    --open_;
  }
  cv_.notify_one();
}

}  // namespace doorstep::sync::internal
