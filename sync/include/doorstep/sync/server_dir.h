// The server directory (docs/server-store.md): `server.db`, the server's
// static key pair `server.key` and the data key `data.key`, both 0600; with
// the PostgreSQL backend, `server.conf` (0600) names the database instead of
// `server.db`.
// `doorstep server …`, the demo and benchmarks open a server through here.
// Thread safety: plain functions; the returned objects are as documented in
// server_store.h and key_pair.h.
#ifndef DOORSTEP_SYNC_SERVER_DIR_H_
#define DOORSTEP_SYNC_SERVER_DIR_H_

#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_store.h"

namespace doorstep::sync {

inline constexpr char kServerKeyFile[] = "server.key";
inline constexpr char kDataKeyFile[] = "data.key";
inline constexpr char kServerConfFile[] = "server.conf";

// Creates `dir` (mode 0700) if needed, a fresh static key pair and data key
// and an empty store. Returns the static key pair. kFailedPrecondition if
// `dir` already holds a server; kUnavailable/kInternal for I/O errors.
// With `postgres` (a libpq conninfo), the store is created in that database
// (OpenPgServerStore's errors) and `server.conf` records the backend and
// conninfo; on failure the files written here are removed again.
Result<KeyPair> InitServerDir(const std::string& dir, Env env, const std::string& postgres = "");

// Opens the store of an initialised `dir`. kNotFound if `dir` holds no
// server; kFailedPrecondition for key files readable by others;
// kCorruption/kUnauthenticated for damaged or mismatched files. Opens the
// backend `server.conf` names (SQLite `server.db` without one).
Result<std::unique_ptr<ServerStore>> OpenServerDir(const std::string& dir, Env env);
// The server's static key pair from `dir`.
Result<KeyPair> ReadServerKeys(const std::string& dir);

// Data key file: "DSDKEY1\n" ‖ 32 bytes, created O_EXCL with mode 0600 and
// fsync'd. Reading checks size, magic and that no group/other bit is set.
Status WriteDataKeyFile(const std::string& path, const SecretBytes& key);
Result<SecretBytes> ReadDataKeyFile(const std::string& path);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_SERVER_DIR_H_
