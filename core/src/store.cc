// Store: files, keys, locking. Records are in store_records.cc, the sync
// client's view in store_sync.cc. The file's schema is in docs/store.md.
#include "doorstep/core/store.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "doorstep/core/sqlite_wal_batch_vfs.h"
#include "store_internal.h"

namespace doorstep::core {
namespace {

// Store format 4 (docs/store.md). A record write adds one versions row (its
// sealed body, its audit entry and its queued mutation) and inserts or
// updates its records row and that row's subject index entry: three b-trees.
// `pending` holds rejected mutations and those queued before format 4.
// session and pdetail come after body: format 3 → 4 adds them in place.
constexpr char kSchemaSql[] = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE records(
  id BLOB PRIMARY KEY,
  type TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  local_version INTEGER NOT NULL,
  rev INTEGER NOT NULL,
  hlc_key INTEGER NOT NULL,
  head INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX records_subject ON records(subject_id, hlc_key);
CREATE TABLE versions(
  seq INTEGER PRIMARY KEY,
  record BLOB NOT NULL,
  local_version INTEGER NOT NULL,
  prev INTEGER NOT NULL,
  mutation INTEGER NOT NULL,
  action INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  body BLOB NOT NULL,
  session BLOB,
  pdetail BLOB);
CREATE TABLE pending(
  seq INTEGER PRIMARY KEY,
  version INTEGER NOT NULL,
  session BLOB NOT NULL,
  state INTEGER NOT NULL,
  detail BLOB);
CREATE TABLE conflicts(
  conflict_id TEXT PRIMARY KEY,
  record_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  state TEXT NOT NULL,
  body BLOB NOT NULL);
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  record_id TEXT NOT NULL,
  version INTEGER,
  detail BLOB);
)sql";

Status ApplyPragmas(Database& db) {
  // synchronous=FULL: a saved note survives the battery dying, not only a crash.
  // cache_size: an 8 MB page cache per connection (SQLite's default is 2 MB),
  // small for a phone; a large batch (bulk import, a first sync's pulled
  // records) then keeps its index pages in memory instead of spilling them
  // to the WAL and writing them again (docs/store.md, "Page cache").
  return db.Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
      "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA cache_size=-" +
      std::to_string(kStorePageCacheKiB) + ";");
}

std::string RandomHex(Random& random, size_t bytes) {
  std::string b(bytes, '\0');
  random.Fill(b.data(), b.size());
  return ToHex(b);
}

std::string KeyMode(const KeySource& k) {
  if (k.passphrase != nullptr && k.keystore_key != nullptr) return "both";
  if (k.keystore_key != nullptr) return "keystore";
  return "passphrase";
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string WrapAd(std::string_view store_id) { return "ds1|data_key|" + std::string(store_id); }

// Derives the KEK for `key` under the store's stored parameters.
Result<SecretBytes> DeriveKek(Store::Impl& impl, const KeySource& key) {
  DS_ASSIGN_OR_RETURN(auto mode, impl.GetMeta("key_mode"));
  if (!mode) return CorruptionError("store has no key mode");
  if (*mode != KeyMode(key)) {
    if (*mode == "both") {
      return InvalidArgumentError("this store needs both a passphrase and a keystore key");
    }
    return InvalidArgumentError("this store is opened with a " + *mode +
                                (*mode == "passphrase" ? "" : " key"));
  }
  std::optional<SecretBytes> pass_key;
  if (key.passphrase != nullptr) {
    KdfParams p;
    DS_ASSIGN_OR_RETURN(auto salt, impl.GetMeta("kdf_salt"));
    DS_ASSIGN_OR_RETURN(int64_t ops, impl.GetMetaInt("kdf_ops", 0));
    DS_ASSIGN_OR_RETURN(int64_t mem, impl.GetMetaInt("kdf_mem", 0));
    DS_ASSIGN_OR_RETURN(int64_t alg, impl.GetMetaInt("kdf_alg", 0));
    if (!salt) return CorruptionError("store has no KDF salt");
    p.salt = *salt;
    p.opslimit = static_cast<uint64_t>(ops);
    p.memlimit = static_cast<uint64_t>(mem);
    p.alg = static_cast<int>(alg);
    DS_ASSIGN_OR_RETURN(SecretBytes k, DeriveKeyFromPassphrase(*key.passphrase, p));
    pass_key.emplace(std::move(k));
  }
  return CombineKek(pass_key ? &*pass_key : nullptr, key.keystore_key);
}

// Writes KDF parameters, key mode and the wrapped data key for `key`.
Status StoreWrappedKey(Store::Impl& impl, const KeySource& key, KdfProfile profile,
                       const SecretBytes& data_key) {
  std::optional<SecretBytes> pass_key;
  if (key.passphrase != nullptr) {
    KdfParams p = NewKdfParams(profile, *impl.env().random);
    DS_ASSIGN_OR_RETURN(SecretBytes k, DeriveKeyFromPassphrase(*key.passphrase, p));
    pass_key.emplace(std::move(k));
    DS_RETURN_IF_ERROR(impl.SetMeta("kdf_salt", p.salt));
    DS_RETURN_IF_ERROR(impl.SetMetaInt("kdf_ops", static_cast<int64_t>(p.opslimit)));
    DS_RETURN_IF_ERROR(impl.SetMetaInt("kdf_mem", static_cast<int64_t>(p.memlimit)));
    DS_RETURN_IF_ERROR(impl.SetMetaInt("kdf_alg", p.alg));
  }
  DS_ASSIGN_OR_RETURN(SecretBytes kek, CombineKek(pass_key ? &*pass_key : nullptr, key.keystore_key));
  DS_ASSIGN_OR_RETURN(auto store_id, impl.GetMeta("store_id"));
  if (!store_id) return CorruptionError("store has no id");
  DS_ASSIGN_OR_RETURN(std::string wrapped, WrapKey(kek, data_key, WrapAd(*store_id), *impl.env().random));
  DS_RETURN_IF_ERROR(impl.SetMeta("key_mode", KeyMode(key)));
  return impl.SetMeta("wrapped_key", wrapped);
}

Status CheckKeySource(const KeySource& key) {
  if (key.passphrase == nullptr && key.keystore_key == nullptr) {
    return InvalidArgumentError("no key given: a passphrase, a keystore key, or both");
  }
  if (key.passphrase != nullptr && key.passphrase->empty()) {
    return InvalidArgumentError("the passphrase is empty");
  }
  if (key.keystore_key != nullptr && key.keystore_key->size() != kKeyBytes) {
    return InvalidArgumentError("the keystore key must be 32 bytes");
  }
  return Status::Ok();
}

}  // namespace

// ---- Impl helpers shared across store_*.cc ----

Result<StmtRef> Store::Impl::Stmt(const char* sql) {
  if (!db_) return FailedPreconditionError("the store has been closed (wiped or destroyed)");
  for (auto& [key, st] : stmts_) {
    if (key == sql) return StmtRef(st.get());
  }
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(*db_, sql));
  stmts_.emplace_back(sql, std::make_unique<Statement>(std::move(st)));
  return StmtRef(stmts_.back().second.get());
}

Store::Impl::Impl(std::unique_ptr<Database> db, Env env) : db_(std::move(db)), env_(env) {
  // Any end of a transaction (commit, rollback, automatic rollback) lets
  // other handles write again: ReserveVersionSeq must query afresh.
  sqlite3_commit_hook(db_->raw(), [](void* self) {
    static_cast<Impl*>(self)->version_seq_current_ = false;
    return 0;  // let the commit proceed
  }, this);
  sqlite3_rollback_hook(db_->raw(), [](void* self) { static_cast<Impl*>(self)->version_seq_current_ = false; }, this);
}

void Store::Impl::SetSealer(Sealer s) {
  sealer_.emplace(std::move(s));
  env_.random->Fill(id_key_, sizeof id_key_);
  id_counter_ = 0;
  id_order_ = RecordIdOrder(*env_.random);
  mutation_prefix_.assign(12, '\0');
  env_.random->Fill(mutation_prefix_.data(), mutation_prefix_.size());
  next_version_seq_ = 0;
  version_seq_current_ = false;
}

void Store::Impl::DropSealer() {
  sealer_.reset();
  sodium_memzero(id_key_, sizeof id_key_);
  sodium_memzero(id_block_, sizeof id_block_);
  id_order_ = RecordIdOrder();
}

std::string Store::Impl::NewId() {
  // Id n's random bits are bytes 16(n mod 4) .. +15 of the keystream block
  // for nonce n / 4: one block computed serves four ids in turn. The count
  // starts at 0 with each session's key (SetSealer) and only NewId moves
  // it, so the block in id_block_ is n / 4's whenever n mod 4 is not 0.
  const uint64_t n = id_counter_++;
  if (n % 4 == 0) {
    const uint64_t block = n / 4;
    unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {};
    for (int i = 0; i < 8; ++i) nonce[i] = static_cast<unsigned char>(block >> (8 * i));
    crypto_stream_chacha20_ietf(id_block_, sizeof id_block_, nonce, id_key_);
  }
  unsigned char raw[16];
  std::memcpy(raw, id_block_ + 16 * (n % 4), sizeof raw);
  id_order_.Stamp(raw);  // so ids sort in the order they were made
  return ToHex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

std::string Store::Impl::MutationId(std::string_view prefix, int64_t seq) {
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (unsigned char c : prefix) {
    id.push_back(kHex[c >> 4]);
    id.push_back(kHex[c & 15]);
  }
  for (int shift = 28; shift >= 0; shift -= 4) id.push_back(kHex[(static_cast<uint64_t>(seq) >> shift) & 15]);
  return id;
}

bool Store::Impl::ParseMutationId(std::string_view mutation_id, std::string* prefix, int64_t* seq) {
  if (!IsRecordId(mutation_id)) return false;
  *prefix = RawId(mutation_id).substr(0, 12);
  *seq = 0;
  for (char c : mutation_id.substr(24)) *seq = *seq * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
  return true;
}

namespace {

// Each byte's value as a hex digit ('0'-'9', 'a'-'f', 'A'-'F'), low 8 bits;
// other bytes map as RawId always mapped them (its callers check first).
constexpr std::array<unsigned char, 256> MakeNibbles() {
  std::array<unsigned char, 256> t{};
  for (int u = 0; u < 256; ++u) {
    const int c = static_cast<signed char>(u);
    const int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    t[static_cast<size_t>(u)] = static_cast<unsigned char>(v & 0xff);
  }
  return t;
}
constexpr std::array<unsigned char, 256> kNibble = MakeNibbles();

}  // namespace

std::string RawId(std::string_view hex) {
  std::string raw(hex.size() / 2, '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(hex.data());
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<char>((kNibble[in[2 * i]] << 4 | kNibble[in[2 * i + 1]]) & 0xff);
  }
  return raw;
}

int64_t HlcKey(std::string_view hlc) {
  // "<13 digits>-<8 hex>-<device>" (HlcStamp::Encode); only the time and
  // counter are read here, checked as strictly as Decode would.
  if (hlc.size() <= kHlcEncodedPrefixChars || hlc[13] != '-' || hlc[22] != '-') return 0;
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (hlc[i] < '0' || hlc[i] > '9') return 0;
    ms = ms * 10 + (hlc[i] - '0');
  }
  uint64_t counter = 0;
  for (size_t i = 14; i < 22; ++i) {
    char c = hlc[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    counter = counter * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  constexpr int64_t kMaxMs = (int64_t{1} << 43) - 1;  // the year 2248
  constexpr uint64_t kMaxCounter = (uint64_t{1} << 20) - 1;
  return std::min(ms, kMaxMs) << 20 | static_cast<int64_t>(std::min(counter, kMaxCounter));
}

// Cached statements: the queue's low-water mark (queue_from) is read once
// per pulled record and per push.
Result<std::optional<std::string>> Store::Impl::GetMeta(std::string_view key) {
  DS_ASSIGN_OR_RETURN(StmtRef st, Stmt("SELECT value FROM meta WHERE key=?"));
  st->Bind(1, key);
  DS_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st->ColumnBlob(0));
}

Status Store::Impl::SetMeta(std::string_view key, std::string_view value) {
  DS_ASSIGN_OR_RETURN(StmtRef st, Stmt("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  st->Bind(1, key).BindBlob(2, value);
  return st->Run();
}

Result<int64_t> Store::Impl::GetMetaInt(std::string_view key, int64_t fallback) {
  DS_ASSIGN_OR_RETURN(auto v, GetMeta(key));
  if (!v) return fallback;
  if (v->empty() || v->size() > 20) return CorruptionError("store meta '" + std::string(key) + "' is not a number");
  int64_t out = 0;
  bool neg = (*v)[0] == '-';
  for (size_t i = neg ? 1 : 0; i < v->size(); ++i) {
    char c = (*v)[i];
    if (c < '0' || c > '9') return CorruptionError("store meta '" + std::string(key) + "' is not a number");
    out = out * 10 + (c - '0');
  }
  return neg ? -out : out;
}

Status Store::Impl::SetMetaInt(std::string_view key, int64_t value) { return SetMeta(key, std::to_string(value)); }

Status Store::Impl::SetSealedMeta(std::string_view key, std::string_view plaintext) {
  DS_ASSIGN_OR_RETURN(std::string sealed, Seal(plaintext, "ds1|meta|" + std::string(key)));
  return SetMeta(key, sealed);
}

Result<std::optional<std::string>> Store::Impl::GetSealedMeta(std::string_view key) {
  DS_ASSIGN_OR_RETURN(auto v, GetMeta(key));
  if (!v) return std::optional<std::string>();
  DS_ASSIGN_OR_RETURN(std::string plain, Open(*v, "ds1|meta|" + std::string(key)));
  return std::optional<std::string>(std::move(plain));
}

Status Store::Impl::RequireUnlocked() const {
  if (!db_) return FailedPreconditionError("the store has been closed (wiped or destroyed)");
  if (!sealer_) return FailedPreconditionError("the store is locked");
  return Status::Ok();
}

Result<std::string> Store::Impl::Seal(std::string_view plaintext, std::string_view ad) {
  DS_RETURN_IF_ERROR(RequireUnlocked());
  return sealer_->Seal(plaintext, ad);
}

Result<std::string> Store::Impl::Open(std::string_view sealed, std::string_view ad) {
  DS_RETURN_IF_ERROR(RequireUnlocked());
  return sealer_->Open(sealed, ad);
}

std::string Store::Impl::RecordAd(std::string_view id, std::string_view type, int64_t local_version) {
  std::string ad = "ds1|rec|";
  ad.append(id).append("|").append(type).append("|").append(std::to_string(local_version));
  return ad;
}

// ---- Store ----

Store::Store(std::unique_ptr<Impl> impl, std::string path, std::string device_id)
    : impl_(std::move(impl)), path_(std::move(path)), device_id_(std::move(device_id)) {}

Store::~Store() { Lock(); }

Result<std::unique_ptr<Store>> Store::Create(const std::string& path, const KeySource& key,
                                             const StoreOptions& options, Env env) {
  DS_RETURN_IF_ERROR(CheckKeySource(key));
  if (options.max_failed_unlocks < 1 || options.max_failed_unlocks > 1000) {
    return InvalidArgumentError("max failed unlocks must be between 1 and 1000");
  }
  if (FileExists(path)) return InvalidArgumentError("a file already exists at " + path);
  // The connection gathers each commit's WAL writes into one write call
  // (doorstep/core/sqlite_wal_batch_vfs.h: written out when the commit frame
  // is, so under any synchronous setting). docs/store.md, session 9.
  DS_ASSIGN_OR_RETURN(const char* vfs, internal::WalBatchVfs());
  DS_ASSIGN_OR_RETURN(auto db, Database::Open(path, Database::Mode::kCreate, vfs));
  ::chmod(path.c_str(), 0600);
  auto impl = std::make_unique<Impl>(std::move(db), env);
  Status s = [&]() -> Status {
    DS_RETURN_IF_ERROR(ApplyPragmas(impl->db()));
    DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl->db()));
    DS_RETURN_IF_ERROR(impl->db().Exec(kSchemaSql));
    DS_RETURN_IF_ERROR(impl->db().Exec(kAuditLogViewSql));
    DS_RETURN_IF_ERROR(impl->SetMetaInt("format", kStoreFormat));
    DS_RETURN_IF_ERROR(impl->SetMeta("store_id", RandomHex(*env.random, 16)));
    impl->device_id = RandomHex(*env.random, 16);
    DS_RETURN_IF_ERROR(impl->SetMeta("device_id", impl->device_id));
    DS_RETURN_IF_ERROR(impl->SetMetaInt("failed_unlocks", 0));
    DS_RETURN_IF_ERROR(impl->SetMetaInt("max_failed_unlocks", options.max_failed_unlocks));
    DS_RETURN_IF_ERROR(impl->SetMetaInt("checkpoint", 0));
    SecretBytes data_key = RandomKey(*env.random);
    DS_RETURN_IF_ERROR(StoreWrappedKey(*impl, key, options.kdf, data_key));
    DS_ASSIGN_OR_RETURN(Sealer sealer, Sealer::Create(std::move(data_key), *env.random));
    impl->SetSealer(std::move(sealer));
    // The device's static X25519 key pair for the sync transport, sealed.
    SecretBytes priv = RandomKey(*env.random);
    std::string pub(crypto_scalarmult_BYTES, '\0');
    crypto_scalarmult_base(reinterpret_cast<unsigned char*>(pub.data()), priv.data());
    std::string blob(reinterpret_cast<const char*>(priv.data()), priv.size());
    blob += pub;
    Status ks = impl->SetSealedMeta("device_key", blob);
    sodium_memzero(blob.data(), blob.size());
    DS_RETURN_IF_ERROR(ks);
    DS_RETURN_IF_ERROR(impl->Audit("init", "", {{"device_id", impl->device_id}}));
    return txn.Commit();
  }();
  if (!s.ok()) {
    impl.reset();
    ::unlink(path.c_str());
    ::unlink((path + "-wal").c_str());
    ::unlink((path + "-shm").c_str());
    return s;
  }
  std::string device_id = impl->device_id;
  return std::unique_ptr<Store>(new Store(std::move(impl), path, device_id));
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, Env env) {
  if (!FileExists(path)) return NotFoundError("no store at " + path);
  DS_ASSIGN_OR_RETURN(const char* vfs, internal::WalBatchVfs());  // as in Create
  DS_ASSIGN_OR_RETURN(auto db, Database::Open(path, Database::Mode::kReadWrite, vfs));
  auto impl = std::make_unique<Impl>(std::move(db), env);
  Status s = ApplyPragmas(impl->db());
  if (!s.ok()) {
    if (s.code() == StatusCode::kCorruption) return CorruptionError(path + " is not a Doorstep store");
    return s;
  }
  auto format = impl->GetMetaInt("format", -1);
  if (!format.ok() || *format < 0) return CorruptionError(path + " is not a Doorstep store");
  // Older formats are migrated a step at a time, each in one transaction,
  // before any key is given (docs/store.md): a crash between two steps
  // leaves the format the first one made.
  for (auto [from, migrate] : {std::pair{2, &MigrateFormat2To3}, std::pair{3, &MigrateFormat3To4}}) {
    if (*format != from) continue;
    Status m = migrate(impl->db());
    if (!m.ok()) {
      return m.Annotate("migrating " + path + " from store format " + std::to_string(from) + " to " +
                        std::to_string(from + 1));
    }
    format = impl->GetMetaInt("format", -1);
    if (!format.ok()) return format.status();
  }
  if (*format != kStoreFormat) {
    return CorruptionError(path + " has store format " + std::to_string(*format) +
                           ", this build reads format " + std::to_string(kStoreFormat));
  }
  DS_ASSIGN_OR_RETURN(auto device_id, impl->GetMeta("device_id"));
  if (!device_id || !IsRecordId(*device_id)) return CorruptionError(path + " has no valid device id");
  impl->device_id = *device_id;
  std::string id = *device_id;
  return std::unique_ptr<Store>(new Store(std::move(impl), path, id));
}

Status Store::Wipe(const std::string& path) {
  if (!FileExists(path)) return NotFoundError("no store at " + path);
  {
    // Destroy the wrapped key first (secure_delete overwrites the old page),
    // so even a copy of stray pages cannot be opened.
    auto db = Database::Open(path, Database::Mode::kReadWrite);
    if (db.ok()) {
      Env env = RealEnv();
      std::string junk(kSealOverhead + kKeyBytes, '\0');
      env.random->Fill(junk.data(), junk.size());
      (void)(*db)->Exec("PRAGMA secure_delete=ON");
      auto st = Statement::Prepare(**db, "UPDATE meta SET value=? WHERE key='wrapped_key'");
      if (st.ok()) {
        st->BindBlob(1, junk);
        (void)st->Run();
      }
      (void)(*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
  }
  int failures = 0;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::string p = path + suffix;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) ++failures;
  }
  if (failures) return UnavailableError("could not delete every file of the store at " + path);
  return Status::Ok();
}

Status Store::Unlock(const KeySource& key) {
  DS_RETURN_IF_ERROR(CheckKeySource(key));
  if (impl_->closed()) return FailedPreconditionError("the store has been closed (wiped or destroyed)");
  if (impl_->unlocked()) return Status::Ok();
  DS_ASSIGN_OR_RETURN(int64_t failed, impl_->GetMetaInt("failed_unlocks", 0));
  DS_ASSIGN_OR_RETURN(int64_t limit, impl_->GetMetaInt("max_failed_unlocks", 10));
  // Count the attempt before trying it, durably: killing the process during
  // the KDF must not yield a free guess.
  DS_RETURN_IF_ERROR(impl_->SetMetaInt("failed_unlocks", failed + 1));
  DS_ASSIGN_OR_RETURN(auto store_id, impl_->GetMeta("store_id"));
  DS_ASSIGN_OR_RETURN(auto wrapped, impl_->GetMeta("wrapped_key"));
  if (!store_id || !wrapped) return CorruptionError("the store has no wrapped key");
  DS_ASSIGN_OR_RETURN(SecretBytes kek, DeriveKek(*impl_, key));
  auto data_key = UnwrapKey(kek, *wrapped, WrapAd(*store_id));
  if (!data_key.ok()) {
    if (data_key.status().code() != StatusCode::kUnauthenticated) return data_key.status();
    if (failed + 1 >= limit) {
      impl_->Close();
      Status w = Wipe(path_);
      return UnauthenticatedError("wrong passphrase or key; after " + std::to_string(failed + 1) +
                                  " failed unlocks in a row the store has been wiped" +
                                  (w.ok() ? "" : " (" + w.message() + ")"));
    }
    return UnauthenticatedError("wrong passphrase or key (" + std::to_string(failed + 1) + " of " +
                                std::to_string(limit) + " attempts before the store wipes itself)");
  }
  DS_ASSIGN_OR_RETURN(Sealer sealer, Sealer::Create(std::move(data_key).value(), *impl_->env().random));
  impl_->SetSealer(std::move(sealer));
  DS_RETURN_IF_ERROR(impl_->SetMetaInt("failed_unlocks", 0));
  auto enr = GetEnrollment();
  if (enr.ok() && enr->has_value()) impl_->author_id = (*enr)->practitioner_id;
  return Status::Ok();
}

Status Store::Destroy() {
  if (impl_->closed()) return FailedPreconditionError("the store is closed");
  impl_->Close();  // close the connection before the files go
  return Wipe(path_);
}

void Store::Lock() {
  impl_->DropSealer();  // Sealer's SecretBytes wipes the data key
}

bool Store::locked() const { return !impl_->unlocked(); }

int Store::failed_unlocks() const {
  if (impl_->closed()) return 0;
  auto v = impl_->GetMetaInt("failed_unlocks", 0);
  return v.ok() ? static_cast<int>(*v) : 0;
}

Status Store::ChangeKey(const KeySource& old_key, const KeySource& new_key, std::optional<KdfProfile> kdf) {
  DS_RETURN_IF_ERROR(CheckKeySource(new_key));
  // Unlock proves the old key (and counts a wrong one).
  DS_RETURN_IF_ERROR(Unlock(old_key));
  DS_ASSIGN_OR_RETURN(auto store_id, impl_->GetMeta("store_id"));
  DS_ASSIGN_OR_RETURN(auto wrapped, impl_->GetMeta("wrapped_key"));
  if (!store_id || !wrapped) return CorruptionError("the store has no wrapped key");
  DS_ASSIGN_OR_RETURN(SecretBytes old_kek, DeriveKek(*impl_, old_key));
  DS_ASSIGN_OR_RETURN(SecretBytes data_key, UnwrapKey(old_kek, *wrapped, WrapAd(*store_id)));
  KdfProfile profile = KdfProfile::kModerate;
  if (kdf) {
    profile = *kdf;
  } else {
    DS_ASSIGN_OR_RETURN(int64_t mem, impl_->GetMetaInt("kdf_mem", 0));
    if (mem > 0 && static_cast<uint64_t>(mem) <= crypto_pwhash_MEMLIMIT_INTERACTIVE) profile = KdfProfile::kInteractive;
  }
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl_->db()));
  DS_RETURN_IF_ERROR(StoreWrappedKey(*impl_, new_key, profile, data_key));
  DS_RETURN_IF_ERROR(impl_->Audit("passwd", "", {{"key_mode", KeyMode(new_key)}}));
  return txn.Commit();
}

Status Store::SetEnrollment(const Enrollment& e) {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  nlohmann::json j = {{"server", e.server}, {"server_key", e.server_key_hex},
                      {"practitioner_id", e.practitioner_id}, {"role", e.role}};
  DS_RETURN_IF_ERROR(impl_->SetSealedMeta("enrollment", j.dump()));
  impl_->author_id = e.practitioner_id;
  return Status::Ok();
}

Result<std::optional<Enrollment>> Store::GetEnrollment() {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  DS_ASSIGN_OR_RETURN(auto plain, impl_->GetSealedMeta("enrollment"));
  if (!plain) return std::optional<Enrollment>();
  auto j = nlohmann::json::parse(*plain, nullptr, false);
  if (!j.is_object()) return CorruptionError("enrolment record is malformed");
  Enrollment e;
  for (auto [key, out] : {std::pair{"server", &e.server}, {"server_key", &e.server_key_hex},
                          {"practitioner_id", &e.practitioner_id}, {"role", &e.role}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return CorruptionError("enrolment record lacks " + std::string(key));
    *out = it->get<std::string>();
  }
  return std::optional<Enrollment>(std::move(e));
}

Status Store::SetDeviceKeyPair(const SecretBytes& private_key, const std::string& public_key) {
  std::string blob(reinterpret_cast<const char*>(private_key.data()), private_key.size());
  blob += public_key;
  Status s = impl_->SetSealedMeta("device_key", blob);
  sodium_memzero(blob.data(), blob.size());
  return s;
}

Result<std::pair<SecretBytes, std::string>> Store::GetDeviceKeyPair() {
  DS_ASSIGN_OR_RETURN(auto blob, impl_->GetSealedMeta("device_key"));
  if (!blob) return NotFoundError("this device has no key pair yet");
  if (blob->size() != 64) return CorruptionError("device key pair has the wrong size");
  SecretBytes priv = SecretBytes::Copy(blob->data(), 32);
  std::string pub = blob->substr(32);
  sodium_memzero(blob->data(), blob->size());
  return std::make_pair(std::move(priv), std::move(pub));
}

}  // namespace doorstep::core
