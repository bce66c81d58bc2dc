/* The C ABI against a real server on 127.0.0.1, from plain C: two devices
 * enrol, one adds a record and syncs, the other pulls it; both edit the same
 * field, a conflict arises, is resolved and both converge. Then progress and
 * cancel, and a 10,000-record sync whose progress never goes backwards and
 * ends at its total. The server is the built `doorstep` binary (DOORSTEP_BIN).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_server_util.h"
#include "c_test_util.h"
#include "doorstep/doorstep.h"

static TestServer g_server;
static char g_dir[256];
static int g_devices = 0;

/* A new store enrolled as `practitioner`, who has `subject` on their
 * caseload, in *out. */
static void NewDevice(const char* practitioner, const char* subject,
                      ds_store_t** out) {
  char path[512], name[64], code[128];
  ds_error err;
  *out = NULL;
  snprintf(name, sizeof name, "device%d.db", ++g_devices);
  JoinPath(path, sizeof path, g_dir, name);
  ds_store_t* s = ds_store_create(path, "pin 2468", NULL, 0,
                                  "{\"kdf\":\"interactive\"}", &err);
  CHECK_OK(s != NULL, err);
  CHECK(ServerEnroll(&g_server, practitioner, code, sizeof code));
  CHECK(ServerAssign(&g_server, practitioner, subject));
  if (!ds_enroll(s, g_server.addr, g_server.key, code, &err)) {
    ds_store_close(s);
    CHECK_OK(0, err);
  }
  *out = s;
}

/* ds_sync; the report in *report (caller frees) or NULL with err filled. */
static char* Sync(ds_store_t* s, ds_error* err) {
  return ds_sync(s, NULL, NULL, NULL, err);
}

/* The "location" field's value of record `id` on `s`, into out. */
static int Location(ds_store_t* s, const char* id, char* out, size_t n) {
  ds_error err;
  char* rec = ds_record_get(s, id, &err);
  if (rec == NULL) return 0;
  int ok = JsonString(rec, "location", out, n);
  ds_string_free(rec);
  return ok;
}

static void TestRoundTripConflictResolveConverge(void) {
  ds_store_t* a = NULL;
  ds_store_t* b = NULL;
  ds_error err;
  NewDevice("worker-1", "case-001", &a);
  if (a == NULL) return;
  NewDevice("worker-2", "case-001", &b);
  if (b == NULL) {
    ds_store_close(a);
    return;
  }
  char* status = ds_store_status(a, &err);
  CHECK_OK(status != NULL, err);
  CHECK(strstr(status, "\"enrolled\":true") != NULL);
  CHECK(strstr(status, "\"practitioner_id\":\"worker-1\"") != NULL);
  ds_string_free(status);

  /* A adds a record and pushes it. */
  char* fields = VisitNoteJson("First analysis.");
  char* rec = ds_record_put(a, "visit_note", "case-001", fields, "final", &err);
  free(fields);
  CHECK_OK(rec != NULL, err);
  char id[33];
  CHECK(JsonString(rec, "id", id, sizeof id));
  ds_string_free(rec);
  char* report = Sync(a, &err);
  CHECK_OK(report != NULL, err);
  CHECK(strstr(report, "\"pushed\":1") != NULL);
  ds_string_free(report);

  /* B pulls it. */
  report = Sync(b, &err);
  CHECK_OK(report != NULL, err);
  CHECK(strstr(report, "\"pulled\":1") != NULL);
  ds_string_free(report);
  char loc[128];
  CHECK(Location(b, id, loc, sizeof loc));
  CHECK(strcmp(loc, "Family home") == 0);

  /* Both change the same field from the same revision: a conflict. */
  char* ea =
      ds_record_edit(a, id, "{\"location\":\"Kitchen table\"}", NULL, &err);
  CHECK_OK(ea != NULL, err);
  ds_string_free(ea);
  char* eb = ds_record_edit(b, id, "{\"location\":\"Garden\"}", NULL, &err);
  CHECK_OK(eb != NULL, err);
  ds_string_free(eb);
  report = Sync(a, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);
  report = Sync(b, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);

  char* conflicts = ds_conflicts_list(b, true, &err);
  CHECK_OK(conflicts != NULL, err);
  char conflict_id[128];
  int found =
      JsonString(conflicts, "conflict_id", conflict_id, sizeof conflict_id);
  if (!found) fprintf(stderr, "open conflicts on B: %s\n", conflicts);
  ds_string_free(conflicts);
  CHECK(found);

  /* B resolves with a value of its own; it reaches A at A's next sync. */
  CHECK(!ds_conflict_resolve(b, conflict_id, "sideways", NULL, &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK_OK(ds_conflict_resolve(b, conflict_id, "value",
                               "\"Kitchen table, then garden\"", &err),
           err);
  CHECK(!ds_conflict_resolve(b, conflict_id, "server", NULL, &err));
  CHECK_CODE(err, DS_ERR_FAILED_PRECONDITION);
  report = Sync(b, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);
  report = Sync(a, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);
  report = Sync(b, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);

  /* Converged: the same value and revision on both, nothing open or pending. */
  char loc_a[128], loc_b[128];
  CHECK(Location(a, id, loc_a, sizeof loc_a));
  CHECK(Location(b, id, loc_b, sizeof loc_b));
  CHECK(strcmp(loc_a, "Kitchen table, then garden") == 0);
  CHECK(strcmp(loc_b, loc_a) == 0);
  char* ra = ds_record_get(a, id, &err);
  char* rb = ds_record_get(b, id, &err);
  CHECK(ra != NULL && rb != NULL);
  const char* rev_a = strstr(ra, "\"rev\":");
  const char* rev_b = strstr(rb, "\"rev\":");
  CHECK(rev_a != NULL && rev_b != NULL && atoi(rev_a + 6) == atoi(rev_b + 6) &&
        atoi(rev_a + 6) > 0);
  ds_string_free(ra);
  ds_string_free(rb);
  for (int i = 0; i < 2; ++i) {
    ds_store_t* s = i == 0 ? a : b;
    char* open = ds_conflicts_list(s, true, &err);
    CHECK_OK(open != NULL, err);
    if (strcmp(open, "[]") != 0)
      fprintf(stderr, "device %d still has open conflicts: %s\n", i, open);
    CHECK(strcmp(open, "[]") == 0);
    ds_string_free(open);
    char* st = ds_store_status(s, &err);
    CHECK_OK(st != NULL, err);
    CHECK(strstr(st, "\"pending\":0") != NULL);
    ds_string_free(st);
  }
  ds_store_close(a);
  ds_store_close(b);
}

/* Checks on every progress report of one sync. */
typedef struct Progress {
  ds_store_t* store; /* to try re-entering from the callback */
  char phase[16];
  int64_t last_done, last_total;
  int calls, decreased, over_total, unfinished_phases, reentry_code;
  int64_t push_total, pull_total; /* at each phase's end */
  int saw_done;
} Progress;

static void EndPhase(Progress* p) {
  /* "connect" is reported once, as 0 of 1, before the connection opens. */
  if (p->phase[0] == '\0' || strcmp(p->phase, "connect") == 0) return;
  if (p->last_done != p->last_total) {
    fprintf(stderr, "phase %s ended at %lld of %lld\n", p->phase,
            (long long)p->last_done, (long long)p->last_total);
    ++p->unfinished_phases;
  }
  if (strcmp(p->phase, "push") == 0) p->push_total = p->last_total;
  if (strcmp(p->phase, "pull") == 0) p->pull_total = p->last_total;
}

static void OnProgress(const char* phase, int64_t done, int64_t total,
                       void* user) {
  Progress* p = (Progress*)user;
  if (strcmp(phase, p->phase) != 0) {
    EndPhase(p);
    snprintf(p->phase, sizeof p->phase, "%s", phase);
    p->last_done = -1;
  }
  if (done < p->last_done) ++p->decreased;
  if (done > total) ++p->over_total;
  if (strcmp(phase, "done") == 0) p->saw_done = 1;
  p->last_done = done;
  p->last_total = total;
  ++p->calls;
  if (p->store != NULL && p->calls == 1) {
    ds_error err;
    char* s = ds_store_status(p->store, &err);
    p->reentry_code = s == NULL ? err.code : DS_OK;
    ds_string_free(s);
  }
}

static void TestCancelAndReentry(void) {
  ds_store_t* s = NULL;
  ds_error err;
  NewDevice("worker-1", "case-001", &s);
  if (s == NULL) return;
  char* fields = VisitNoteJson("Cancelled analysis.");
  char* rec = ds_record_put(s, "visit_note", "case-001", fields, NULL, &err);
  free(fields);
  CHECK_OK(rec != NULL, err);
  ds_string_free(rec);

  ds_cancel_t* cancel = ds_cancel_new(&err);
  CHECK_OK(cancel != NULL, err);
  ds_cancel_set(cancel);
  CHECK(ds_sync(s, NULL, NULL, cancel, &err) == NULL);
  CHECK_CODE(err, DS_ERR_ABORTED);
  ds_cancel_free(cancel);
  char* st = ds_store_status(s, &err);
  CHECK_OK(st != NULL, err);
  CHECK(strstr(st, "\"pending\":1") != NULL); /* nothing lost */
  ds_string_free(st);

  /* A callback that calls back into the same store is refused, not deadlocked.
   */
  Progress p;
  memset(&p, 0, sizeof p);
  p.store = s;
  char* report = ds_sync(s, OnProgress, &p, NULL, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);
  CHECK(p.calls > 0);
  CHECK(p.reentry_code == DS_ERR_FAILED_PRECONDITION);
  ds_store_close(s);
}

static void TestRevokedDeviceIsWiped(void) {
  ds_store_t* s = NULL;
  ds_error err;
  NewDevice("worker-5", "case-003", &s);
  if (s == NULL) return;
  char path[512];
  snprintf(path, sizeof path, "%s/device%d.db", g_dir, g_devices);
  char* status = ds_store_status(s, &err);
  CHECK_OK(status != NULL, err);
  char device_id[128];
  int have_id = JsonString(status, "device_id", device_id, sizeof device_id);
  ds_string_free(status);
  CHECK(have_id);
  char* report = ds_sync(s, NULL, NULL, NULL, &err);
  CHECK_OK(report != NULL, err);
  ds_string_free(report);

  CHECK(ServerRevoke(&g_server, device_id));
  CHECK(ds_sync(s, NULL, NULL, NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_PERMISSION_DENIED);
  CHECK(strstr(err.message, "revoked") != NULL);
  /* The handle only closes now, and the file is gone. */
  CHECK(ds_record_list(s, NULL, &err) == NULL);
  CHECK(err.code != DS_OK);
  ds_store_close(s);
  CHECK(ds_store_open(path, "pin 2468", NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_NOT_FOUND);
}

static double Seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void TestProgressOverTenThousandRecords(void) {
  enum { kRecords = 10000 };
  ds_store_t* a = NULL;
  ds_store_t* b = NULL;
  ds_error err;
  NewDevice("worker-3", "case-002", &a);
  if (a == NULL) return;
  NewDevice("worker-4", "case-002", &b);
  if (b == NULL) {
    ds_store_close(a);
    return;
  }
  double t0 = Seconds();
  char* fields = VisitNoteJson("Bulk analysis.");
  for (int i = 0; i < kRecords; ++i) {
    char* rec = ds_record_put(a, "visit_note", "case-002", fields, NULL, &err);
    if (rec == NULL) free(fields);
    CHECK_OK(rec != NULL, err);
    ds_string_free(rec);
  }
  free(fields);
  double t1 = Seconds();

  Progress push;
  memset(&push, 0, sizeof push);
  char* report = ds_sync(a, OnProgress, &push, NULL, &err);
  CHECK_OK(report != NULL, err);
  CHECK(strstr(report, "\"pushed\":10000") != NULL);
  ds_string_free(report);
  EndPhase(&push);
  double t2 = Seconds();

  Progress pull;
  memset(&pull, 0, sizeof pull);
  report = ds_sync(b, OnProgress, &pull, NULL, &err);
  CHECK_OK(report != NULL, err);
  CHECK(strstr(report, "\"pulled\":10000") != NULL);
  ds_string_free(report);
  EndPhase(&pull);
  double t3 = Seconds();
  printf(
      "10k records: add %.1fs, push %.1fs (%d progress calls), pull %.1fs (%d "
      "calls)\n",
      t1 - t0, t2 - t1, push.calls, t3 - t2, pull.calls);

  CHECK(push.decreased == 0 && pull.decreased == 0);
  CHECK(push.over_total == 0 && pull.over_total == 0);
  CHECK(push.unfinished_phases == 0 && pull.unfinished_phases == 0);
  CHECK(push.push_total == kRecords);
  CHECK(pull.pull_total >= kRecords);
  CHECK(push.calls > 10 &&
        pull.calls > 3); /* progress arrived during the sync, not once */
  CHECK(push.saw_done && pull.saw_done);

  char* list = ds_record_list(b, "{\"subject_id\":\"case-002\"}", &err);
  CHECK_OK(list != NULL, err);
  int n = 0;
  for (const char* p = list;
       (p = strstr(p, "\"subject_id\":\"case-002\"")) != NULL; ++p)
    ++n;
  ds_string_free(list);
  CHECK(n == kRecords);
  ds_store_close(a);
  ds_store_close(b);
}

int main(void) {
  ds_error err;
  if (!ds_init(&err)) {
    fprintf(stderr, "ds_init: %s\n", err.message);
    return 1;
  }
  /* The 10k-record test writes ~50 MB with an fsync per record: use a RAM
   * disk when there is one with room. */
  if (!MakeFastTempDir(g_dir, sizeof g_dir, 1024)) return 1;
  if (!ServerStart(&g_server, g_dir)) {
    ServerStop(&g_server);
    RemoveTree(g_dir);
    return 1;
  }
  TestRoundTripConflictResolveConverge();
  TestCancelAndReentry();
  TestRevokedDeviceIsWiped();
  if (getenv("DOORSTEP_SKIP_10K") == NULL) TestProgressOverTenThousandRecords();
  ServerStop(&g_server);
  RemoveTree(g_dir);
  return Finish("c_api_sync_test");
}
