// Store::Impl: the state behind a Store, shared by store.cc (files, keys,
// locking), store_records.cc (record writes and reads) and store_sync.cc (the
// sync client's view). Private to core.
#ifndef DOORSTEP_CORE_STORE_INTERNAL_H_
#define DOORSTEP_CORE_STORE_INTERNAL_H_

#include <memory>
#include <optional>
#include <string>

#include "doorstep/core/crypto.h"
#include "doorstep/core/env.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/record.h"
#include "doorstep/core/sqlite.h"
#include "doorstep/core/store.h"

namespace doorstep::core {

inline constexpr int kStoreFormat = 1;

class Store::Impl {
 public:
  Impl(std::unique_ptr<Database> db, Env env) : db_(std::move(db)), env_(env) {}

  Database& db() { return *db_; }
  Env& env() { return env_; }

  // Meta table (clear values: ids, counters, KDF parameters, wrapped key).
  Result<std::optional<std::string>> GetMeta(std::string_view key);
  Status SetMeta(std::string_view key, std::string_view value);
  Result<int64_t> GetMetaInt(std::string_view key, int64_t fallback);
  Status SetMetaInt(std::string_view key, int64_t value);
  // Sealed meta values, bound to their key name.
  Status SetSealedMeta(std::string_view key, std::string_view plaintext);
  Result<std::optional<std::string>> GetSealedMeta(std::string_view key);

  // REQUIRES: unlocked. Seals/opens with associated data `ad`.
  Result<std::string> Seal(std::string_view plaintext, std::string_view ad);
  Result<std::string> Open(std::string_view sealed, std::string_view ad);
  Status RequireUnlocked() const;
  bool unlocked() const { return sealer_.has_value(); }
  void SetSealer(Sealer s) { sealer_.emplace(std::move(s)); }
  void DropSealer() { sealer_.reset(); }
  // Closes the connection (wiped or destroyed store); every later call fails.
  void Close() { sealer_.reset(); db_.reset(); }
  bool closed() const { return db_ == nullptr; }

  // Associated data of a record body at a local version.
  static std::string RecordAd(std::string_view id, std::string_view type, int64_t local_version);

  // The next HLC stamp for a local write (recovers the last one lazily).
  Result<std::string> NextHlc();

  // Reads the body of record `id` at `local_version` (current or history).
  Result<Record> ReadVersion(std::string_view id, int64_t local_version);
  // Reads the current record.
  Result<Record> ReadCurrent(std::string_view id);
  // Writes `r` (r.local_version already bumped) as the current version,
  // moving the previous body (if any) into history. Inside a transaction.
  Status WriteVersion(const Record& r, bool existed, std::string_view origin);
  // Appends an audit entry (detail sealed). Inside a transaction.
  Status Audit(std::string_view action, std::string_view record_id, const nlohmann::json& detail);

  std::string device_id;
  std::string author_id;  // practitioner id once enrolled ("" before)

 private:
  std::unique_ptr<Database> db_;
  Env env_;
  std::optional<Sealer> sealer_;
  std::optional<HybridClock> hlc_;
};

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_STORE_INTERNAL_H_
