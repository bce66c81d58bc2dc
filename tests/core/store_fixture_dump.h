// Everything a device store shows through the public API — every record,
// every history version, the pending mutations, conflicts and status — plus
// its audit log read straight from the file, as one JSON value. The store
// migration test compares a migrated store with what the fixture's generator
// (tests/core/fixtures/make_fixture_store.cc, built against the format-2 code)
// saw before migration. Test-only.
#ifndef DOORSTEP_TESTS_CORE_STORE_FIXTURE_DUMP_H_
#define DOORSTEP_TESTS_CORE_STORE_FIXTURE_DUMP_H_

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/crypto.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"

namespace doorstep::core::testing {

// The audit log's rows [at_ms, action, record_id, version|null, hex(detail)|null],
// sorted, read from `table` ("audit" in format 2, the "audit_log" view in 3).
inline nlohmann::json DumpAuditRows(const std::string& path, const std::string& table) {
  nlohmann::json rows = nlohmann::json::array();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open " + path;
  }
  sqlite3_stmt* st = nullptr;
  std::string sql = "SELECT at_ms, action, record_id, version, detail FROM " + table;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string err = sqlite3_errmsg(db);
    sqlite3_close(db);
    return "cannot read " + table + ": " + err;
  }
  std::vector<nlohmann::json> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    nlohmann::json row = nlohmann::json::array();
    row.push_back(sqlite3_column_int64(st, 0));
    row.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    row.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 2)));
    if (sqlite3_column_type(st, 3) == SQLITE_NULL) row.push_back(nullptr); else row.push_back(sqlite3_column_int64(st, 3));
    if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
      row.push_back(nullptr);
    } else {
      row.push_back(ToHex(std::string(static_cast<const char*>(sqlite3_column_blob(st, 4)),
                                      static_cast<size_t>(sqlite3_column_bytes(st, 4)))));
    }
    out.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::sort(out.begin(), out.end());
  for (auto& r : out) rows.push_back(std::move(r));
  return rows;
}

// What the unlocked `store` shows through its API. Errors become strings in
// the dump (so a comparison shows them).
inline nlohmann::json DumpStore(Store& store) {
  using nlohmann::json;
  json out = json::object();
  auto list = store.List({});
  if (!list.ok()) return "List: " + list.status().ToString();
  std::vector<Record> records = std::move(list).value();
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) { return a.id < b.id; });
  json recs = json::array(), hist = json::object();
  for (const Record& r : records) {
    recs.push_back(RecordToJson(r));
    auto h = store.History(r.id);
    if (!h.ok()) {
      hist[r.id] = "History: " + h.status().ToString();
      continue;
    }
    json versions = json::array();
    for (const HistoryEntry& e : *h) {
      versions.push_back({{"local_version", e.local_version}, {"rev", e.rev}, {"hlc", e.hlc},
                          {"updated_at", e.updated_at}, {"author_id", e.author_id}, {"device_id", e.device_id},
                          {"status", e.status}, {"origin", e.origin}, {"fields", e.fields}});
    }
    hist[r.id] = std::move(versions);
  }
  out["records"] = std::move(recs);
  out["history"] = std::move(hist);
  json subjects = json::array();
  auto ordered = store.List({});  // List's own order: by subject, then HLC
  if (ordered.ok()) {
    for (const Record& r : *ordered) subjects.push_back({r.subject_id, r.id});
  }
  out["list_order"] = std::move(subjects);
  auto pending = PendingMutations(store, 100000);
  if (!pending.ok()) {
    out["pending"] = "PendingMutations: " + pending.status().ToString();
  } else {
    json p = json::array();
    for (const OutgoingMutation& m : *pending) {
      p.push_back({{"mutation_id", m.mutation_id}, {"kind", m.kind}, {"record", RecordToJson(m.record)},
                   {"base_rev", m.base_rev}, {"changes", m.changes}, {"resolve", m.resolve}});
    }
    out["pending"] = std::move(p);
  }
  auto conflicts = ListConflicts(store, false);
  out["conflicts"] = conflicts.ok() ? json(*conflicts) : json("ListConflicts: " + conflicts.status().ToString());
  auto status = store.GetStatus();
  if (!status.ok()) {
    out["status"] = "GetStatus: " + status.status().ToString();
  } else {
    out["status"] = {{"pending", status->pending}, {"rejected", status->rejected},
                     {"open_conflicts", status->open_conflicts}, {"records", status->records},
                     {"last_sync_at", status->last_sync_at}, {"checkpoint", status->checkpoint},
                     {"device_id", status->device_id}, {"rejected_details", status->rejected_details}};
  }
  return out;
}

}  // namespace doorstep::core::testing

#endif  // DOORSTEP_TESTS_CORE_STORE_FIXTURE_DUMP_H_
