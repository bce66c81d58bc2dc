// PostgreSQL for the server tests. The tests' backend is chosen per test
// (parameterised): SQLite always; PostgreSQL when DOORSTEP_PG_CONNINFO names
// a database (scripts/pg-test-cluster). Without one, PostgreSQL cases are
// skipped when DOORSTEP_PG is "off" (cmake -DDOORSTEP_PG_TESTS=OFF, the
// default of a plain build) and fail when it is "on" (CI: a missing cluster
// is a failure, never a silent skip). Each case gets its own schema, dropped
// afterwards, so cases may run in parallel on one database.
#ifndef DOORSTEP_TESTS_SYNC_PG_TEST_UTIL_H_
#define DOORSTEP_TESTS_SYNC_PG_TEST_UTIL_H_

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

namespace doorstep::sync::testing {

enum class Backend { kSqlite, kPostgres };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// The cluster's conninfo, or "" if none is configured.
inline std::string PgConninfo() {
  const char* c = std::getenv("DOORSTEP_PG_CONNINFO");
  return c ? std::string(c) : std::string();
}

// True if a missing cluster must fail the test (DOORSTEP_PG=on).
inline bool PgRequired() {
  const char* v = std::getenv("DOORSTEP_PG");
  return std::string(v != nullptr ? v : DOORSTEP_TEST_PG_DEFAULT) == "on";
}

// Runs `sql` on `conninfo`; returns "" or the error message.
inline std::string PgExec(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

// Runs `sql` and returns the bytea/text values of the first column.
inline std::vector<std::string> PgColumn(const std::string& conninfo, const std::string& sql) {
  std::vector<std::string> out;
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexecParams(c, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0), PQgetlength(r, i, 0));
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

// A schema name no other test process uses.
inline std::string UniqueSchema() {
  static std::atomic<int> n{0};
  auto t = std::chrono::steady_clock::now().time_since_epoch().count();
  return "ds_t_" + std::to_string(::getpid()) + "_" + std::to_string(t % 1000000007) + "_" +
         std::to_string(n++);
}

// `conninfo` with `schema` as the search path.
inline std::string WithSchema(const std::string& conninfo, const std::string& schema) {
  return conninfo + " options='-csearch_path=" + schema + "'";
}

}  // namespace doorstep::sync::testing

#endif  // DOORSTEP_TESTS_SYNC_PG_TEST_UTIL_H_
