/*
 * doorstep.h — the stable C ABI of Doorstep: the whole surface the Android
 * and iOS shells see (DESIGN.md, "Platform shells").
 *
 * Shape. Opaque handles (ds_store_t, ds_cancel_t); JSON strings (UTF-8, NUL
 * terminated) in and out; every function returns a handle, a string, a count
 * or a bool and takes a trailing `ds_error* err` that is filled only on
 * failure (a code and a message in a fixed buffer inside the struct; there is
 * no global error state). `err` may be NULL when the caller does not want the
 * details. No C++ type and no exception crosses this header: every function
 * catches everything at the boundary (including out-of-memory) and reports it
 * in `err`.
 *
 * Ownership. Every `char*` a function returns is allocated by the library and
 * owned by the caller, who frees it with ds_string_free() (never free()).
 * `const char*` results (ds_version, ds_code_name) are static and never freed.
 * A ds_store_t is freed with ds_store_close(), a ds_cancel_t with
 * ds_cancel_free(). Arguments are only read during the call; the library keeps
 * no pointer to them afterwards, except `user` in ds_sync, used until it
 * returns.
 *
 * Threads. Call ds_init() once before anything else (it is safe to call it
 * again). A ds_store_t may be used from any thread; calls on one handle are
 * serialised by a lock inside it (a call made while ds_sync runs on another
 * thread waits for the sync to finish). ds_cancel_set() may be called from any
 * thread at any time. Distinct handles are independent, but open one handle
 * per store file: ds_sync holds the store's write lock from its first write
 * to its end (one durable commit per sync, or per 10,000 pulled records), so
 * a write through a second handle on the same file waits for it, and fails
 * with DS_ERR_UNAVAILABLE ("database is locked"; nothing is written, retry)
 * after 5 seconds if the sync is still running.
 *
 * Secrets. Passphrases and platform keys are copied into wiped memory for the
 * duration of the call; the caller should wipe its own copy. Record contents
 * returned as JSON are decrypted case content: never log them. Error messages
 * never contain field values and may be logged.
 */
#ifndef DOORSTEP_DOORSTEP_H_
#define DOORSTEP_DOORSTEP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define DS_API __attribute__((visibility("default")))
#else
#define DS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

/* Error codes. 0..12 mirror doorstep::StatusCode one to one, and each says
 * what the caller should do next. */
typedef enum ds_code {
  DS_OK = 0,
  DS_ERR_INVALID_ARGUMENT = 1, /* fix the input; retrying fails again */
  DS_ERR_NOT_FOUND = 2,        /* the thing named does not exist */
  DS_ERR_UNAUTHENTICATED =
      3, /* wrong passphrase/key, unknown peer; do not retry */
  DS_ERR_PERMISSION_DENIED =
      4, /* not allowed (role, caseload, revoked); do not retry */
  DS_ERR_UNAVAILABLE = 5, /* transient (network, busy); retry later */
  DS_ERR_ABORTED =
      6, /* interrupted (or cancelled); retry the whole operation */
  DS_ERR_DATA_LOSS = 7,  /* integrity check failed; stop */
  DS_ERR_CORRUPTION = 8, /* a file or structure is malformed; stop */
  DS_ERR_CONFLICT = 9,   /* concurrent change; see the conflicts */
  DS_ERR_FAILED_PRECONDITION =
      10, /* wrong state (locked, not enrolled, ds_init not called) */
  DS_ERR_RESOURCE_EXHAUSTED =
      11,               /* a size or count limit was hit, or out of memory */
  DS_ERR_INTERNAL = 12, /* a bug or an unexpected library error */
  /* A record was refused by validation; nothing was saved. The message is a
   * JSON array of problems [{"path","code","message"}, ...] (if the full list
   * does not fit, the last entry has code "truncated"; ds_validate lists all).
   */
  DS_ERR_VALIDATION = 100
} ds_code;

#define DS_ERROR_MESSAGE_SIZE 4096

/* Filled by a failing call. `code` is a ds_code; `message` is NUL-terminated
 * UTF-8, truncated at a character boundary to fit. Owned by the caller
 * (usually on the stack); a successful call leaves it untouched. */
typedef struct ds_error {
  int code;
  char message[DS_ERROR_MESSAGE_SIZE];
} ds_error;

/* A stable lower_snake name for `code` ("not_found", "validation", ...;
 * "unknown" for other values). Static; never freed. */
DS_API const char* ds_code_name(int code);

/* Frees a string returned by this library. NULL is a no-op. */
DS_API void ds_string_free(char* s);

/* ---- library ------------------------------------------------------------ */

/* Initialises the library (libsodium). Must succeed before any other call
 * except ds_version, ds_code_name and ds_string_free; safe to call again.
 * Returns false with DS_ERR_INTERNAL if the crypto library cannot start. */
DS_API bool ds_init(ds_error* err);

/* The library's version, e.g. "0.1.0". Static; never freed. */
DS_API const char* ds_version(void);

/* ---- stores ------------------------------------------------------------- */

/* An open device store (one encrypted file). Opaque. */
typedef struct ds_store ds_store_t;

/* Every store is opened by a passphrase (the user's PIN or passphrase), a
 * 32-byte platform key (from the Android Keystore / iOS Keychain), or both —
 * then both are required and neither alone opens it. Pass NULL for a part not
 * used (`key` NULL means key_len is ignored). */

/* Creates a new store at `path` (which must not exist), unlocked.
 * `options_json` may be NULL or
 * {"kdf":"moderate"|"interactive","max_failed_unlocks":N} (defaults: moderate
 * Argon2id, 10 wrong unlocks before the store wipes itself). Returns a handle
 * the caller closes with ds_store_close, or NULL: DS_ERR_INVALID_ARGUMENT (file
 * exists, no key, key not 32 bytes, bad options), DS_ERR_UNAVAILABLE (cannot
 * create the file). */
DS_API ds_store_t* ds_store_create(const char* path, const char* passphrase,
                                   const uint8_t* key, size_t key_len,
                                   const char* options_json, ds_error* err);

/* Opens and unlocks the store at `path`. Returns a handle the caller closes
 * with ds_store_close, or NULL: DS_ERR_NOT_FOUND (no store there),
 * DS_ERR_UNAUTHENTICATED (wrong passphrase or key: the failure counter moved;
 * at the limit the store has wiped itself and the message says so),
 * DS_ERR_INVALID_ARGUMENT (the store needs the other kind of key, or both),
 * DS_ERR_CORRUPTION (not a Doorstep store). */
DS_API ds_store_t* ds_store_open(const char* path, const char* passphrase,
                                 const uint8_t* key, size_t key_len,
                                 ds_error* err);

/* Wipes the key material from memory; the handle stays open and record calls
 * fail with DS_ERR_FAILED_PRECONDITION until ds_store_unlock. */
DS_API bool ds_store_lock(ds_store_t* store, ds_error* err);

/* Unlocks a locked handle. Errors as ds_store_open. */
DS_API bool ds_store_unlock(ds_store_t* store, const char* passphrase,
                            const uint8_t* key, size_t key_len, ds_error* err);

/* Re-wraps the store's data key under a new passphrase and/or key (no record
 * is rewritten). The old ones must open the store: DS_ERR_UNAUTHENTICATED if
 * not. */
DS_API bool ds_store_passwd(ds_store_t* store, const char* old_passphrase,
                            const uint8_t* old_key, size_t old_key_len,
                            const char* new_passphrase, const uint8_t* new_key,
                            size_t new_key_len, ds_error* err);

/* Destroys the store's data: the wrapped key first (so no copy of the file
 * can be decrypted), then the files. The handle stays valid only for
 * ds_store_close; other calls on it fail with DS_ERR_FAILED_PRECONDITION. */
DS_API bool ds_store_wipe(ds_store_t* store, ds_error* err);

/* Locks and closes the store and frees the handle. NULL is a no-op.
 * REQUIRES: no other call on this handle is running or will be made. */
DS_API void ds_store_close(ds_store_t* store);

/* The store's state as JSON: {"store","device_id","records","pending",
 * "rejected","rejected_details":[…],"open_conflicts","last_sync_at",
 * "checkpoint","enrolled","enrollment":{"server","server_key",
 * "practitioner_id","role"}|null}. Caller frees with ds_string_free.
 * NULL on failure. */
DS_API char* ds_store_status(ds_store_t* store, ds_error* err);

/* ---- records (REQUIRES: store unlocked) --------------------------------- */

/* Adds a record. `type`: visit_note | return_home_interview | pep_update |
 * pathway_plan; `subject_id`: the opaque case id; `fields_json`: a JSON
 * object; `status`: "draft" or "final" (NULL = "draft"). Returns the saved
 * record as JSON ({"id","type","subject_id","status","rev","flags":[…],
 * "fields":{…}, …}), freed by the caller with ds_string_free; or NULL:
 * DS_ERR_VALIDATION (refused; message = JSON problems; nothing saved),
 * DS_ERR_INVALID_ARGUMENT (unknown type, bad subject id, not JSON). */
DS_API char* ds_record_put(ds_store_t* store, const char* type,
                           const char* subject_id, const char* fields_json,
                           const char* status, ds_error* err);

/* Adds many new records in one call (a bulk import), in one transaction.
 * `records_json` is a JSON array of objects {"type", "subject_id", "fields",
 * "status" (optional: "draft")}. Returns a JSON array in the same order
 * (caller frees): {"ok":true,"record":{…}} for each record saved (the record
 * as ds_record_put returns it), {"ok":false,"problems":[…],"flags":[…]} for
 * each one validation refused (not saved; the others are). NULL:
 * DS_ERR_INVALID_ARGUMENT (not JSON, not an array, an entry that is not such
 * an object, an unknown type or a bad subject id; the message names
 * records[i]); then, as on any other error, nothing is saved. */
DS_API char* ds_record_put_many(ds_store_t* store, const char* records_json,
                                ds_error* err);

/* Edits record `id`: `changes_json` is an object of changed fields (a null
 * value removes a field); `status` NULL keeps it, or "final" (never back to
 * draft). Editing a final record makes an amendment. Returns the record as
 * ds_record_put does (caller frees), or NULL: DS_ERR_NOT_FOUND,
 * DS_ERR_VALIDATION, DS_ERR_INVALID_ARGUMENT. */
DS_API char* ds_record_edit(ds_store_t* store, const char* id,
                            const char* changes_json, const char* status,
                            ds_error* err);

/* Record `id` as JSON (caller frees), or NULL with DS_ERR_NOT_FOUND. */
DS_API char* ds_record_get(ds_store_t* store, const char* id, ds_error* err);

/* The records matching `filter_json` (NULL or {} for all; keys "subject_id"
 * and "type", each a string) as a JSON array of records. Caller frees. */
DS_API char* ds_record_list(ds_store_t* store, const char* filter_json,
                            ds_error* err);

/* Every version of record `id`, oldest first, as a JSON array of
 * {"local_version","rev","hlc","updated_at","author_id","device_id","status",
 * "origin","fields"}. Caller frees. NULL with DS_ERR_NOT_FOUND. */
DS_API char* ds_record_history(ds_store_t* store, const char* id,
                               ds_error* err);

/* Checks a record without saving it (no store needed): returns
 * {"ok":bool,"problems":[{"path","code","message"}…],"flags":[…]} (caller
 * frees). A record with problems is not a failure here. NULL only for
 * DS_ERR_INVALID_ARGUMENT (unknown type, `fields_json` not JSON, bad status).
 * `status` NULL = "draft". */
DS_API char* ds_validate(const char* type, const char* fields_json,
                         const char* status, ds_error* err);

/* ---- sync --------------------------------------------------------------- */

/* Enrols the store with a server: `server` is "HOST:PORT", `server_key_hex`
 * the server's static public key (64 hex chars, pinned from now on), `code`
 * the one-time enrolment code an administrator issued. False on failure:
 * DS_ERR_PERMISSION_DENIED (code refused), DS_ERR_UNAVAILABLE (network),
 * DS_ERR_UNAUTHENTICATED (server key mismatch), DS_ERR_INVALID_ARGUMENT. */
DS_API bool ds_enroll(ds_store_t* store, const char* server,
                      const char* server_key_hex, const char* code,
                      ds_error* err);

/* Progress of a sync: `phase` is "connect", "push", "pull" or "done" (static
 * strings, valid during the call only); within a phase `done` never decreases
 * and equals `total` at the phase's end. Runs on the thread that called
 * ds_sync; must return quickly, must not throw or longjmp, and must not call
 * any ds_ function on the same store (that call would fail with
 * DS_ERR_FAILED_PRECONDITION). */
typedef void (*ds_progress_fn)(const char* phase, int64_t done, int64_t total,
                               void* user);

/* A cancel flag for ds_sync. Opaque. */
typedef struct ds_cancel ds_cancel_t;

/* A new, unset cancel flag (caller frees with ds_cancel_free), or NULL when
 * out of memory. */
DS_API ds_cancel_t* ds_cancel_new(ds_error* err);
/* Sets the flag; a ds_sync using it stops at its next batch boundary with
 * DS_ERR_ABORTED (all work committed so far is kept). Any thread. */
DS_API void ds_cancel_set(ds_cancel_t* cancel);
/* Frees the flag. NULL is a no-op. REQUIRES: no ds_sync is using it. */
DS_API void ds_cancel_free(ds_cancel_t* cancel);

/* Pushes pending changes to the server the store is enrolled with, then
 * pulls what changed, reporting progress to `progress` (may be NULL) with
 * `user`. `cancel` may be NULL. Returns a JSON report {"pushed","rejected",
 * "pulled","conflicts","purged","round_trips"} (caller frees), or NULL:
 * DS_ERR_FAILED_PRECONDITION (not enrolled, locked), DS_ERR_UNAVAILABLE or
 * DS_ERR_ABORTED (network failure or cancelled: retry; nothing is lost),
 * DS_ERR_PERMISSION_DENIED with a message saying the device was revoked
 * (the server revoked it: the store has been wiped, its files are gone, and
 * the handle only closes). */
DS_API char* ds_sync(ds_store_t* store, ds_progress_fn progress, void* user,
                     const ds_cancel_t* cancel, ds_error* err);

/* Conflicts known on this device as a JSON array of {"conflict_id",
 * "record_id","subject_id","state",…details}; only open ones when
 * `open_only`. Contains case content. Caller frees. */
DS_API char* ds_conflicts_list(ds_store_t* store, bool open_only,
                               ds_error* err);

/* Resolves conflict `conflict_id`: `take` is "server", "device" or "value"
 * (then `value_json` is the chosen value; otherwise NULL). The resolution is
 * saved locally and pushed at the next sync. DS_ERR_NOT_FOUND (unknown
 * conflict), DS_ERR_FAILED_PRECONDITION (not open), DS_ERR_INVALID_ARGUMENT. */
DS_API bool ds_conflict_resolve(ds_store_t* store, const char* conflict_id,
                                const char* take, const char* value_json,
                                ds_error* err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DOORSTEP_DOORSTEP_H_ */
