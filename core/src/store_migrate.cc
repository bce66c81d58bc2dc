// Store format 2 → 3 (docs/store.md, "Store format 3") and 3 → 4 ("Store
// format 4"), run by Store::Open before any key is given: every sealed column
// keeps its bytes and its associated data (which names record ids as hex
// text), so only clear columns move. One transaction each: a process killed
// half way leaves the format it began from.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "store_internal.h"

namespace doorstep::core {
namespace {

// ds_unhex(text): the bytes of an even-length lower-case hex string of at
// most 64 characters (record ids, mutation-id prefixes); an SQL error
// otherwise, which aborts the migration.
void UnhexFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const unsigned char* text = sqlite3_value_text(argv[0]);
  int n = sqlite3_value_bytes(argv[0]);
  bool ok = text != nullptr && n > 0 && n % 2 == 0 && n <= 64;
  for (int i = 0; ok && i < n; ++i) ok = (text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f');
  if (!ok) {
    sqlite3_result_error(ctx, "an id is not lower-case hex", -1);
    return;
  }
  std::string raw = RawId(std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(n)));
  sqlite3_result_blob(ctx, raw.data(), static_cast<int>(raw.size()), SQLITE_TRANSIENT);
}

// ds_hlc_key(text): HlcKey of a text stamp (0 if it does not decode).
void HlcKeyFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const unsigned char* text = sqlite3_value_text(argv[0]);
  int n = sqlite3_value_bytes(argv[0]);
  sqlite3_result_int64(ctx, text == nullptr ? 0
                                            : HlcKey(std::string_view(reinterpret_cast<const char*>(text),
                                                                      static_cast<size_t>(n))));
}

// Every format-2 version reachable from a record's head, named by its
// record; each add/edit/amend audit row mapped onto the version it wrote
// (the newest row of a (record, version) pair: a record purged and pulled
// again can repeat a pair; older rows stay in the audit table); then the
// format-3 tables filled from them.
constexpr char kCopySql[] = R"sql(
CREATE TEMP TABLE m3_chain(seq INTEGER PRIMARY KEY, rid TEXT NOT NULL, lv INTEGER NOT NULL,
                           mutation INTEGER NOT NULL);
WITH RECURSIVE chain(seq, rid) AS (
  SELECT head, id FROM main.records
  UNION ALL
  SELECT v.prev, c.rid FROM chain c JOIN main.versions v ON v.seq = c.seq WHERE v.prev <> 0 AND v.prev < c.seq)
INSERT INTO m3_chain(seq, rid, lv, mutation)
  SELECT v.seq, c.rid, v.local_version, v.mutation FROM chain c JOIN main.versions v ON v.seq = c.seq;
CREATE INDEX temp.m3_chain_rid ON m3_chain(rid, lv);
CREATE TEMP TABLE m3_audit(seq INTEGER PRIMARY KEY, vseq INTEGER NOT NULL UNIQUE, code INTEGER NOT NULL,
                           at_ms INTEGER NOT NULL);
INSERT INTO m3_audit(seq, vseq, code, at_ms)
  SELECT a.seq, c.seq, CASE a.action WHEN 'add' THEN 1 WHEN 'edit' THEN 2 ELSE 3 END, a.at_ms
  FROM (SELECT max(seq) AS seq FROM main.audit WHERE action IN ('add', 'edit', 'amend')
        GROUP BY record_id, version) g
  JOIN main.audit a ON a.seq = g.seq
  JOIN m3_chain c ON c.rid = a.record_id AND c.lv = a.version
  WHERE c.mutation <> 0;
CREATE TABLE main.records3(
  id BLOB PRIMARY KEY,
  type TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  local_version INTEGER NOT NULL,
  rev INTEGER NOT NULL,
  hlc_key INTEGER NOT NULL,
  head INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE main.versions3(
  seq INTEGER PRIMARY KEY,
  record BLOB NOT NULL,
  local_version INTEGER NOT NULL,
  prev INTEGER NOT NULL,
  mutation INTEGER NOT NULL,
  action INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE TABLE main.pending3(
  seq INTEGER PRIMARY KEY,
  version INTEGER NOT NULL,
  session BLOB NOT NULL,
  state INTEGER NOT NULL,
  detail BLOB);
INSERT INTO main.records3(id, type, subject_id, local_version, rev, hlc_key, head)
  SELECT ds_unhex(id), type, subject_id, local_version, rev, ds_hlc_key(hlc), head FROM main.records;
INSERT INTO main.versions3(seq, record, local_version, prev, mutation, action, at_ms, body)
  SELECT v.seq, ds_unhex(c.rid), v.local_version, v.prev, v.mutation,
         CASE WHEN v.mutation = 0 THEN 0 ELSE coalesce(m.code, 4) END, coalesce(m.at_ms, 0), v.body
  FROM m3_chain c JOIN main.versions v ON v.seq = c.seq LEFT JOIN m3_audit m ON m.vseq = c.seq;
INSERT INTO main.pending3(seq, version, session, state, detail)
  SELECT seq, to_seq, ds_unhex(substr(mutation_id, 1, 24)), CASE state WHEN 'pending' THEN 0 ELSE 1 END, detail
  FROM main.pending;
DELETE FROM main.audit WHERE seq IN (SELECT seq FROM m3_audit);
)sql";

// Pending rows whose format-3 form would not give back the same mutation:
// its id, record, versions, kind and state must all follow from the new row.
constexpr char kCheckSql[] = R"sql(
SELECT count(*) FROM main.pending p LEFT JOIN main.versions3 v ON v.seq = p.to_seq
WHERE v.seq IS NULL OR v.prev <> p.from_seq OR v.record <> ds_unhex(p.record_id) OR v.mutation <> p.seq
   OR length(p.mutation_id) <> 32 OR substr(p.mutation_id, 25) <> printf('%08x', p.seq)
   OR p.state NOT IN ('pending', 'rejected') OR (p.kind = 'resolve') <> (v.action = 4)
)sql";

constexpr char kSwapSql[] = R"sql(
DROP INDEX main.records_subject;
DROP TABLE main.records;
DROP TABLE main.versions;
DROP TABLE main.pending;
DROP TABLE temp.m3_audit;
DROP TABLE temp.m3_chain;
ALTER TABLE main.records3 RENAME TO records;
ALTER TABLE main.versions3 RENAME TO versions;
ALTER TABLE main.pending3 RENAME TO pending;
CREATE INDEX main.records_subject ON records(subject_id, hlc_key);
)sql";

// Test hook (tests/e2e/store_migration_crash_test.cc): with
// DOORSTEP_TEST_HOLD_MIGRATION set, the migration stops just before its
// commit, says so on stderr and waits (up to a minute) to be killed.
void MaybeHoldForTest() {
  if (std::getenv("DOORSTEP_TEST_HOLD_MIGRATION") == nullptr) return;
  std::fprintf(stderr, "doorstep: store migration held before commit (test hook)\n");
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::seconds(60));
}

// Rows the migration cannot carry over (an id that is not hex: an SQL error
// from ds_unhex; a version reached twice: a constraint) mean the format-2
// file is inconsistent: kCorruption. A full disk, a busy or failing file
// stay what they are (kUnavailable: the migration, rolled back, runs again
// at the next open).
Status AsCorruption(const Status& s, int from_format = 2) {
  if (s.code() != StatusCode::kInternal && s.code() != StatusCode::kInvalidArgument) return s;
  return CorruptionError("the format-" + std::to_string(from_format) + " store could not be migrated: " + s.message());
}

// Inside the migration's transaction: whether the file is still at
// `format` (another connection may have migrated it since Open read the
// format, and the migration is then a no-op).
Result<bool> StillAtFormat(Database& db, std::string_view format) {
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, "SELECT value FROM meta WHERE key='format'"));
  DS_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return CorruptionError("the store has no format");
  return st.ColumnBlob(0) == format;
}

}  // namespace

Status MigrateFormat2To3(Database& db) {
  for (auto [name, fn] : {std::pair{"ds_unhex", &UnhexFunction}, std::pair{"ds_hlc_key", &HlcKeyFunction}}) {
    int rc = sqlite3_create_function_v2(db.raw(), name, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, fn, nullptr,
                                        nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(rc, "registering the migration's SQL functions", db.raw());
  }
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  DS_ASSIGN_OR_RETURN(bool still_2, StillAtFormat(db, "2"));
  if (!still_2) return Status::Ok();
  DS_RETURN_IF_ERROR(AsCorruption(db.Exec(kCopySql)));
  {
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, kCheckSql));
    auto row = st.Step();
    DS_RETURN_IF_ERROR(AsCorruption(row.status()));
    if (*row && st.ColumnInt(0) != 0) {
      return CorruptionError("the format-2 store could not be migrated: " + std::to_string(st.ColumnInt(0)) +
                             " pending mutations do not match their versions");
    }
  }
  DS_RETURN_IF_ERROR(AsCorruption(db.Exec(kSwapSql)));
  DS_RETURN_IF_ERROR(db.Exec(kAuditLogViewSql));
  DS_RETURN_IF_ERROR(db.Exec("UPDATE meta SET value=CAST('3' AS BLOB) WHERE key='format'"));
  MaybeHoldForTest();
  return txn.Commit();
}

Status MigrateFormat3To4(Database& db) {
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  DS_ASSIGN_OR_RETURN(bool still_3, StillAtFormat(db, "3"));
  if (!still_3) return Status::Ok();
  // The queue columns go after body, so no row is rewritten: a row written
  // before reads them as NULL (not queued in its row). Mutations queued
  // before stay in `pending` (their ids name pending seqs, not version
  // seqs), and queue_from starts above every version and pending seq, so
  // every later mutation's seq is above theirs and the queue keeps its order.
  DS_RETURN_IF_ERROR(AsCorruption(db.Exec(R"sql(
ALTER TABLE main.versions ADD COLUMN session BLOB;
ALTER TABLE main.versions ADD COLUMN pdetail BLOB;
INSERT INTO main.meta(key, value)
  SELECT 'queue_from', CAST(CAST(max(coalesce((SELECT max(seq) FROM main.versions), 0),
                                     coalesce((SELECT max(seq) FROM main.pending), 0)) + 1 AS TEXT) AS BLOB);
UPDATE main.meta SET value=CAST('4' AS BLOB) WHERE key='format';
)sql"), 3));
  MaybeHoldForTest();
  return txn.Commit();
}

}  // namespace doorstep::core
