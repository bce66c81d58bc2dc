/* The C ABI from plain C, as a shell sees it: libdoorstep.so and doorstep.h
 * only. Store calls here; the round trip against a real server is in
 * c_api_sync_test.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_util.h"
#include "doorstep/doorstep.h"

static const char* kOptions = "{\"kdf\":\"interactive\"}";

static void TestBeforeInit(void) {
  ds_error err;
  err.code = DS_OK;
  CHECK(ds_store_open("/nonexistent/x.db", "pw", NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "ds_init") != NULL);
  CHECK(ds_version()[0] != '\0');
  CHECK(strcmp(ds_code_name(DS_ERR_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(ds_code_name(DS_ERR_VALIDATION), "validation") == 0);
  CHECK(strcmp(ds_code_name(-3), "unknown") == 0);
  ds_string_free(NULL);
  ds_store_close(NULL);
  ds_cancel_free(NULL);
}

static void TestRecords(const char* dir) {
  char path[512];
  ds_error err;
  JoinPath(path, sizeof path, dir, "records.db");
  ds_store_t* s =
      ds_store_create(path, "correct horse", NULL, 0, kOptions, &err);
  CHECK_OK(s != NULL, err);

  /* Add: a successful call leaves err untouched. */
  char* fields = VisitNoteJson("Analysis line one.");
  err.code = 4242;
  char* rec = ds_record_put(s, "visit_note", "case-001", fields, "draft", &err);
  CHECK_OK(rec != NULL, err);
  CHECK(err.code == 4242);
  char id[33];
  CHECK(JsonString(rec, "id", id, sizeof id));
  CHECK(strlen(id) == 32);
  CHECK(strstr(rec, "\"subject_id\":\"case-001\"") != NULL);
  CHECK(strstr(rec, "\"status\":\"draft\"") != NULL);
  ds_string_free(rec);

  /* Get. */
  char* got = ds_record_get(s, id, &err);
  CHECK_OK(got != NULL, err);
  CHECK(strstr(got, id) != NULL);
  CHECK(strstr(got, "Analysis line one.") != NULL);
  ds_string_free(got);
  CHECK(ds_record_get(s, "0123456789abcdef0123456789abcdef", &err) == NULL);
  CHECK_CODE(err, DS_ERR_NOT_FOUND);

  /* List, with and without filters. */
  char* all = ds_record_list(s, NULL, &err);
  CHECK_OK(all != NULL, err);
  CHECK(all[0] == '[' && strstr(all, id) != NULL);
  ds_string_free(all);
  char* mine = ds_record_list(
      s, "{\"subject_id\":\"case-001\",\"type\":\"visit_note\"}", &err);
  CHECK_OK(mine != NULL, err);
  CHECK(strstr(mine, id) != NULL);
  ds_string_free(mine);
  char* none = ds_record_list(s, "{\"subject_id\":\"case-999\"}", &err);
  CHECK_OK(none != NULL, err);
  CHECK(strcmp(none, "[]") == 0);
  ds_string_free(none);
  CHECK(ds_record_list(s, "{\"subjectid\":\"x\"}", &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_record_list(s, "{not json", &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);

  /* A refused record: DS_ERR_VALIDATION with the problems as JSON. */
  CHECK(ds_record_put(s, "visit_note", "case-001", "{\"visit_type\":\"nope\"}",
                      NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_VALIDATION);
  CHECK(err.message[0] == '[' &&
        strstr(err.message, "\"path\":\"visit_type\"") != NULL);
  CHECK(ds_record_put(s, "no_such_type", "case-001", fields, NULL, &err) ==
        NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_record_put(s, "visit_note", "case 001 with spaces", fields, NULL,
                      &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_record_put(s, "visit_note", "case-001", "[1,", NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_record_put(s, NULL, "case-001", fields, NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);

  /* Edit, then history holds both versions. */
  char* edited = ds_record_edit(s, id, "{\"analysis\":\"Analysis, revised.\"}",
                                "final", &err);
  CHECK_OK(edited != NULL, err);
  CHECK(strstr(edited, "\"status\":\"final\"") != NULL);
  ds_string_free(edited);
  CHECK(ds_record_edit(s, id, "{}", "draft", &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  char* history = ds_record_history(s, id, &err);
  CHECK_OK(history != NULL, err);
  CHECK(strstr(history, "\"local_version\":1") != NULL);
  CHECK(strstr(history, "\"local_version\":2") != NULL);
  ds_string_free(history);

  /* Status. */
  char* status = ds_store_status(s, &err);
  CHECK_OK(status != NULL, err);
  CHECK(strstr(status, "\"records\":1") != NULL);
  CHECK(strstr(status, "\"enrolled\":false") != NULL);
  ds_string_free(status);

  /* No conflicts on a store that never synced. */
  char* conflicts = ds_conflicts_list(s, true, &err);
  CHECK_OK(conflicts != NULL, err);
  CHECK(strcmp(conflicts, "[]") == 0);
  ds_string_free(conflicts);
  CHECK(!ds_conflict_resolve(s, "c-unknown", "server", NULL, &err));
  CHECK_CODE(err, DS_ERR_NOT_FOUND);

  /* Sync before enrolment is refused; enrolment checks its arguments and
   * reports a server that is not there as unavailable. */
  CHECK(ds_sync(s, NULL, NULL, NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_FAILED_PRECONDITION);
  const char* zero_key =
      "0000000000000000000000000000000000000000000000000000000000000000";
  CHECK(!ds_enroll(s, "no-port", zero_key, "code-1", &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(!ds_enroll(s, "127.0.0.1:1", "abc", "code-1", &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(!ds_enroll(s, "127.0.0.1:1", zero_key, NULL, &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(!ds_enroll(s, "127.0.0.1:1", zero_key, "code-1",
                   &err)); /* nothing listens on port 1 */
  CHECK_CODE(err, DS_ERR_UNAVAILABLE);

  free(fields);
  ds_store_close(s);
}

static void TestValidate(void) {
  ds_error err;
  char* fields = VisitNoteJson("Some analysis.");
  char* ok = ds_validate("visit_note", fields, "final", &err);
  CHECK_OK(ok != NULL, err);
  CHECK(strstr(ok, "\"ok\":true") != NULL);
  CHECK(strstr(ok, "\"problems\":[]") != NULL);
  ds_string_free(ok);
  free(fields);

  char* bad = ds_validate("visit_note", "{\"child_seen\":false}", NULL, &err);
  CHECK_OK(bad != NULL, err);
  CHECK(strstr(bad, "\"ok\":false") != NULL);
  CHECK(strstr(bad, "\"path\":\"not_seen_reason\"") != NULL);
  CHECK(strstr(bad, "child_not_seen") != NULL);
  ds_string_free(bad);

  CHECK(ds_validate("not_a_type", "{}", NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_validate("visit_note", "{", NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_validate("visit_note", "{}", "done", &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
}

static void TestKeys(const char* dir) {
  char path[512];
  ds_error err;
  JoinPath(path, sizeof path, dir, "keys.db");
  ds_store_t* s = ds_store_create(path, "first pass", NULL, 0, kOptions, &err);
  CHECK_OK(s != NULL, err);
  ds_store_close(s);

  /* Wrong passphrase: no handle, a filled error. */
  CHECK(ds_store_open(path, "wrong pass", NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_UNAUTHENTICATED);
  CHECK(err.message[0] != '\0');
  CHECK(ds_store_open(path, NULL, NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);

  s = ds_store_open(path, "first pass", NULL, 0, &err);
  CHECK_OK(s != NULL, err);
  CHECK_OK(ds_store_lock(s, &err), err);
  CHECK(ds_record_list(s, NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_FAILED_PRECONDITION);
  CHECK(!ds_store_unlock(s, "nope", NULL, 0, &err));
  CHECK_CODE(err, DS_ERR_UNAUTHENTICATED);
  CHECK_OK(ds_store_unlock(s, "first pass", NULL, 0, &err), err);

  /* Change to passphrase + platform key: then both are needed. */
  uint8_t key[32];
  for (int i = 0; i < 32; ++i) key[i] = (uint8_t)(i * 7 + 1);
  CHECK(
      !ds_store_passwd(s, "first pass", NULL, 0, "second pass", key, 31, &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK_OK(ds_store_passwd(s, "first pass", NULL, 0, "second pass", key,
                           sizeof key, &err),
           err);
  ds_store_close(s);
  CHECK(ds_store_open(path, "first pass", NULL, 0, &err) == NULL);
  CHECK(err.code == DS_ERR_INVALID_ARGUMENT ||
        err.code == DS_ERR_UNAUTHENTICATED);
  CHECK(ds_store_open(path, "second pass", NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  key[0] ^= 1;
  CHECK(ds_store_open(path, "second pass", key, sizeof key, &err) == NULL);
  CHECK_CODE(err, DS_ERR_UNAUTHENTICATED);
  key[0] ^= 1;
  s = ds_store_open(path, "second pass", key, sizeof key, &err);
  CHECK_OK(s != NULL, err);

  /* Wipe: the handle only closes; the store is gone. */
  CHECK_OK(ds_store_wipe(s, &err), err);
  CHECK(ds_record_list(s, NULL, &err) == NULL);
  CHECK_CODE(err, DS_ERR_FAILED_PRECONDITION);
  ds_store_close(s);
  CHECK(ds_store_open(path, "second pass", key, sizeof key, &err) == NULL);
  CHECK_CODE(err, DS_ERR_NOT_FOUND);

  /* Platform key only. */
  JoinPath(path, sizeof path, dir, "keystore.db");
  s = ds_store_create(path, NULL, key, sizeof key, NULL, &err);
  CHECK_OK(s != NULL, err);
  ds_store_close(s);
  CHECK(ds_store_open(path, NULL, key, 16, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  s = ds_store_open(path, NULL, key, sizeof key, &err);
  CHECK_OK(s != NULL, err);
  ds_store_close(s);

  /* Creating over an existing store, or with no key, is refused. */
  CHECK(ds_store_create(path, "x", NULL, 0, kOptions, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  JoinPath(path, sizeof path, dir, "nokey.db");
  CHECK(ds_store_create(path, NULL, NULL, 0, kOptions, &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_store_create(path, "x", NULL, 0, "{\"kdf\":\"fast\"}", &err) ==
        NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_store_open(path, "x", NULL, 0, &err) == NULL);
  CHECK_CODE(err, DS_ERR_NOT_FOUND);
}

static void TestNullsAndCancel(void) {
  ds_error err;
  CHECK(ds_record_get(NULL, "x", &err) == NULL);
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(!ds_store_lock(NULL, &err));
  CHECK_CODE(err, DS_ERR_INVALID_ARGUMENT);
  CHECK(ds_store_status(NULL, NULL) == NULL); /* err may be NULL */
  ds_cancel_t* c = ds_cancel_new(&err);
  CHECK_OK(c != NULL, err);
  ds_cancel_set(c);
  ds_cancel_set(c);
  ds_cancel_free(c);
}

int main(void) {
  TestBeforeInit();
  ds_error err;
  if (!ds_init(&err)) {
    fprintf(stderr, "ds_init failed: %s\n", err.message);
    return 1;
  }
  if (!ds_init(&err)) { /* again: harmless */
    fprintf(stderr, "second ds_init failed: %s\n", err.message);
    return 1;
  }
  char dir[256];
  if (!MakeTempDir(dir, sizeof dir)) return 1;
  TestValidate();
  TestRecords(dir);
  TestKeys(dir);
  TestNullsAndCancel();
  RemoveTree(dir);
  return Finish("c_api_test");
}
