// Store: the device's encrypted local store — one SQLite file holding the
// practitioner's records, their history, pending sync mutations, conflicts
// and an audit trail. Every field value and detail is sealed with
// XChaCha20-Poly1305 under a random data key; the data key is wrapped by a
// key-encryption key from a passphrase (Argon2id), a platform-keystore key, or
// both. See docs/store.md for the file's schema.
//
// Ownership: a Store owns its SQLite connection and its key material (wiped on
// Lock() and on destruction). Thread safety: not thread-safe; one owner at a
// time (the CLI, the C ABI handle, or the sync client on the caller's thread).
#ifndef DOORSTEP_CORE_STORE_H_
#define DOORSTEP_CORE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/crypto.h"
#include "doorstep/core/env.h"
#include "doorstep/core/record.h"
#include "doorstep/core/schema.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"

namespace doorstep::core {

// What opens a store: a passphrase, a 32-byte keystore key, or both (then
// both are required, and neither alone opens it). Pointers must outlive the call.
struct KeySource {
  const std::string* passphrase = nullptr;
  const SecretBytes* keystore_key = nullptr;
};

// The page cache of a store's connection, in KiB (docs/store.md, "Page cache").
inline constexpr int kStorePageCacheKiB = 8192;

struct StoreOptions {
  KdfProfile kdf = KdfProfile::kModerate;
  int max_failed_unlocks = 10;  // consecutive wrong unlocks before the store wipes itself
};

// The outcome of Add/Edit. When `problems` is non-empty nothing was written.
struct WriteOutcome {
  Record record;                  // the record as saved (when saved)
  std::vector<Problem> problems;  // validation problems (refused)
  std::vector<std::string> flags;
  bool saved() const { return problems.empty(); }
};

// A record for Store::AddMany: what Add takes.
struct NewRecord {
  std::string type;
  std::string subject_id;
  nlohmann::json fields = nlohmann::json::object();
  std::string status = "draft";
};

struct HistoryEntry {
  int64_t local_version = 0;
  int64_t rev = 0;
  std::string hlc;
  int64_t updated_at = 0;
  std::string author_id;
  std::string device_id;
  std::string status;
  std::string origin;  // "local" (written here) or "server" (pulled)
  nlohmann::json fields;
};

struct ListFilter {
  std::optional<std::string> subject_id;
  std::optional<std::string> type;
};

struct Enrollment {
  std::string server;          // HOST:PORT
  std::string server_key_hex;  // pinned static public key of the server
  std::string practitioner_id;
  std::string role;
};

struct StoreStatus {
  int64_t pending = 0;        // mutations waiting to be pushed
  int64_t rejected = 0;       // mutations the server refused (kept, visible)
  int64_t open_conflicts = 0;
  int64_t records = 0;
  int64_t last_sync_at = 0;   // ms; 0 = never
  int64_t checkpoint = 0;
  std::string device_id;
  std::optional<Enrollment> enrollment;
  std::vector<nlohmann::json> rejected_details;  // {mutation_id, record_id, reason}
};

class Store {
 public:
  // Creates a new store at `path` (which must not exist) with a fresh data
  // key and device id, unlocked. kInvalidArgument if the file exists or the
  // key source is empty; kUnavailable if the file cannot be created.
  static Result<std::unique_ptr<Store>> Create(const std::string& path, const KeySource& key,
                                               const StoreOptions& options, Env env);
  // Opens an existing store, locked. kNotFound if there is no store at `path`;
  // kCorruption if the file is not a Doorstep store.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, Env env);
  // Deletes the store's files (the wrapped key is destroyed first, so the
  // data cannot be recovered even from a copy of the pages).
  static Status Wipe(const std::string& path);

  ~Store();

  // Destroys this store in place (a revoked device): the wrapped key is
  // overwritten, every row is deleted, key material is wiped, and the files
  // are removed. The Store is unusable afterwards.
  Status Destroy();

  // Unlocks with `key`. kUnauthenticated on a wrong key: the failure counter in
  // the store moves; at the limit the store wipes itself and the message says so.
  Status Unlock(const KeySource& key);
  // Wipes key material from memory.
  void Lock();
  bool locked() const;
  // Re-wraps the data key under a new key source; no record is touched.
  Status ChangeKey(const KeySource& old_key, const KeySource& new_key,
                   std::optional<KdfProfile> kdf = std::nullopt);
  int failed_unlocks() const;

  const std::string& device_id() const { return device_id_; }
  const std::string& path() const { return path_; }

  // --- records (REQUIRES: unlocked) ---
  Result<WriteOutcome> Add(std::string_view type, std::string_view subject_id,
                           const nlohmann::json& fields, std::string_view status);
  // The same, taking the caller's fields instead of copying them (a bulk
  // import, a parsed command line): they end up in the returned record.
  Result<WriteOutcome> Add(std::string_view type, std::string_view subject_id, nlohmann::json&& fields,
                           std::string_view status);
  // Adds `records` in order, each as Add would: the outcomes, in the same
  // order, are what as many Adds would have returned (a record refused by
  // validation gets its problems, writes nothing, and the others go on). All
  // in one transaction: the open batch's, or else one of the call's own that
  // commits them together. Every record's type, subject id, status and
  // fields object is checked before anything is written (kInvalidArgument
  // naming "records[i]"). Any other error stops the call and names the
  // record: outside a batch nothing is saved; inside one, the records before
  // it stay in the batch (as after as many Adds) and that record leaves no row
  // (unless SQLite rolled the whole batch back itself: see BeginBatch).
  // Quicker than as many Adds for a bulk import: a second thread validates,
  // stamps and seals the next records while this one writes, and this one
  // prepares records too whenever the next to write is not ready (a call
  // with a pep_update, whose check reads the store, goes one record at a
  // time). That thread is the store's own: started by the first call that
  // uses it, asleep between calls, stopped when the store closes.
  Result<std::vector<WriteOutcome>> AddMany(std::vector<NewRecord> records);
  // `changes`: the changed fields; a null value removes a field. `status` may
  // move draft → final (never back).
  Result<WriteOutcome> Edit(std::string_view id, const nlohmann::json& changes,
                            std::optional<std::string> status);
  Result<Record> Get(std::string_view id);
  Result<std::vector<Record>> List(const ListFilter& filter);
  Result<std::vector<HistoryEntry>> History(std::string_view id);
  Result<StoreStatus> GetStatus();

  // --- batches (bulk import, `doorstep bench store`; REQUIRES: unlocked) ---
  // BeginBatch() opens one SQLite transaction that later writes join (each
  // write stays all-or-nothing: a failed one leaves none of its rows and the
  // batch goes on; an Add/Edit takes back what it wrote, other writes use a
  // savepoint; should that fail, or SQLite roll the transaction back itself
  // on a disk or I/O error, the whole batch is gone and CommitBatch fails);
  // CommitBatch() makes them durable together. Destroying the store with a batch open drops the
  // batch. kFailedPrecondition if a batch is already open (Begin) or none is
  // (Commit).
  Status BeginBatch();
  Status CommitBatch();

  // --- enrolment and device identity ---
  Status SetEnrollment(const Enrollment& e);
  Result<std::optional<Enrollment>> GetEnrollment();
  // The device's static Noise key pair (created lazily, sealed in the store).
  Status SetDeviceKeyPair(const SecretBytes& private_key, const std::string& public_key);
  Result<std::pair<SecretBytes, std::string>> GetDeviceKeyPair();

  // Internal plumbing shared by store_*.cc and the sync client.
  class Impl;
  Impl* impl() { return impl_.get(); }

 private:
  Store(std::unique_ptr<Impl> impl, std::string path, std::string device_id);
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string device_id_;
};

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_STORE_H_
