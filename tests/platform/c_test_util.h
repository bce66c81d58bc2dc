/* Helpers for the plain-C tests of the C ABI: checks that report and return,
 * temporary directories, and a synthetic visit note. */
#ifndef DOORSTEP_TESTS_PLATFORM_C_TEST_UTIL_H_
#define DOORSTEP_TESTS_PLATFORM_C_TEST_UTIL_H_

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "doorstep/doorstep.h"

static int g_failures = 0;

/* Each CHECK reports the failing line and returns from the (void) test. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                            \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* A call that must succeed; prints the ds_error when it did not. */
#define CHECK_OK(cond, err)                                                   \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: call failed: %s: %s: %s\n", __FILE__, __LINE__, \
              #cond, ds_code_name((err).code), (err).message);                \
      ++g_failures;                                                           \
      return;                                                                 \
    }                                                                         \
  } while (0)

/* The ds_error holds `want`. */
#define CHECK_CODE(err, want)                                           \
  do {                                                                  \
    if ((err).code != (want)) {                                         \
      fprintf(stderr, "%s:%d: error code %s (%s), want %s\n", __FILE__, \
              __LINE__, ds_code_name((err).code), (err).message,        \
              ds_code_name(want));                                      \
      ++g_failures;                                                     \
      return;                                                           \
    }                                                                   \
  } while (0)

static inline int Finish(const char* name) {
  if (g_failures == 0) {
    printf("%s: all checks passed\n", name);
    return 0;
  }
  fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
  return 1;
}

static inline void JoinPath(char* out, size_t n, const char* dir,
                            const char* name) {
  snprintf(out, n, "%s/%s", dir, name);
}

static inline int MakeTempDir(char* out, size_t n) {
  const char* base = getenv("TMPDIR");
  snprintf(out, n, "%s/ds_capi_XXXXXX",
           base != NULL && base[0] != '\0' ? base : "/tmp");
  if (mkdtemp(out) == NULL) {
    perror("mkdtemp");
    return 0;
  }
  return 1;
}

/* As MakeTempDir, but under /dev/shm when it has `min_free_mb` free. */
static inline int MakeFastTempDir(char* out, size_t n,
                                  unsigned long min_free_mb) {
  struct statvfs vfs;
  if (statvfs("/dev/shm", &vfs) == 0 &&
      (unsigned long long)vfs.f_bavail * vfs.f_frsize >=
          (unsigned long long)min_free_mb << 20) {
    snprintf(out, n, "/dev/shm/ds_capi_XXXXXX");
    if (mkdtemp(out) != NULL) return 1;
  }
  return MakeTempDir(out, n);
}

static inline int RemoveOne(const char* path, const struct stat* sb, int flag,
                            struct FTW* ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline void RemoveTree(const char* dir) {
  nftw(dir, RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
}

/* The string value of top-level-or-nested key `key` (first occurrence of
 * "key":"…") copied to out; 0 when absent or too long. Enough for ids. */
static inline int JsonString(const char* json, const char* key, char* out,
                             size_t n) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char* p = strstr(json, pattern);
  if (p == NULL) return 0;
  p += strlen(pattern);
  const char* end = strchr(p, '"');
  if (end == NULL || (size_t)(end - p) >= n) return 0;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = '\0';
  return 1;
}

/* A valid visit note (synthetic content) whose analysis is `analysis`; the
 * caller frees it with free(). */
static inline char* VisitNoteJson(const char* analysis) {
  const char* fmt =
      "{\"visit_type\":\"child_in_need\","
      "\"visit_start\":\"2025-03-10T10:00:00+00:00\","
      "\"visit_end\":\"2025-03-10T11:00:00+00:00\","
      "\"announced\":true,"
      "\"location\":\"Family home\","
      "\"persons_present\":[{\"name\":\"Child A\",\"role\":\"child\"},"
      "{\"name\":\"Worker 1\",\"role\":\"social_worker\"}],"
      "\"child_seen\":true,\"seen_alone\":true,"
      "\"purpose\":\"Statutory visit.\\n\","
      "\"observations\":\"The home was warm and tidy.\\n\","
      "\"wishes_and_feelings\":\"Child A said: I like my new teacher.\\n\","
      "\"analysis\":\"%s\"}";
  size_t n = strlen(fmt) + strlen(analysis) + 1;
  char* out = (char*)malloc(n);
  if (out != NULL) snprintf(out, n, fmt, analysis);
  return out;
}

#endif /* DOORSTEP_TESTS_PLATFORM_C_TEST_UTIL_H_ */
