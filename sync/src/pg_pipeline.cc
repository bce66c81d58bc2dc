// PgConn's deferred writes: statements whose results the store does not
// need (revision and head rows, audit entries) are queued and sent in one
// libpq pipeline with the next statement that needs an answer, so a push
// batch waits for fewer round trips. See pg_conn.h.
#include <libpq-fe.h>

#include "pg_conn.h"

namespace doorstep::sync::internal {

Status PgConn::Defer(const std::string& sql, std::vector<PgParam> params) {
  DS_ASSIGN_OR_RETURN(std::string name, Prepare(sql));
  deferred_.push_back(Deferred{std::move(name), std::move(params)});
  return Status::Ok();
}

Result<PgResult> PgConn::RunPipeline(const std::string& name, const std::vector<PgParam>& params) {
  std::vector<Deferred> queued;
  queued.swap(deferred_);
  if (!name.empty()) queued.push_back(Deferred{name, params});
  if (PQenterPipelineMode(c_) != 1) return ErrorFrom(nullptr, "pipeline");
  size_t sent = 0;
  for (const Deferred& d : queued) {
    std::vector<const char*> values(d.params.size());
    std::vector<int> lengths(d.params.size());
    std::vector<int> formats(d.params.size());
    for (size_t i = 0; i < d.params.size(); ++i) {
      values[i] = d.params[i].value.data();
      lengths[i] = static_cast<int>(d.params[i].value.size());
      formats[i] = d.params[i].binary ? 1 : 0;
    }
    if (PQsendQueryPrepared(c_, d.name.c_str(), static_cast<int>(d.params.size()), values.data(),
                            lengths.data(), formats.data(), 0) != 1) {
      break;
    }
    ++sent;
  }
  const bool synced = PQpipelineSync(c_) == 1;
  // One result per statement sent (each followed by a null), then the sync.
  std::vector<PgResult> results;
  for (size_t nulls = 0; nulls <= sent + 1;) {
    PGresult* r = PQgetResult(c_);
    if (r == nullptr) {
      if (PQstatus(c_) != CONNECTION_OK) break;
      ++nulls;
      continue;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    results.emplace_back(r);
  }
  (void)PQexitPipelineMode(c_);
  for (size_t i = 0; i < results.size(); ++i) {
    ExecStatusType st = PQresultStatus(results[i].get());
    if (st == PGRES_PIPELINE_ABORTED) continue;  // after the error reported below
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return ErrorFrom(results[i].get(), "query");
  }
  if (!synced || sent != queued.size() || results.size() != sent) {
    return UnavailableError("postgres: pipeline: " + std::string(PQerrorMessage(c_)));
  }
  if (name.empty() || results.empty()) return PgResult();
  return std::move(results.back());
}

}  // namespace doorstep::sync::internal
