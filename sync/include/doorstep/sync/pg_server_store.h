// The PostgreSQL ServerStore (issue 7): the same interface and behaviour as
// the SQLite store (server_store.h), with the data in a PostgreSQL database
// so that several `doorstep server run` processes can serve one deployment.
// docs/server-store.md ("PostgreSQL") describes the schema, the migrations
// and how change ordering holds across processes.
//
// Ownership: the caller owns the returned store. Thread safety: Begin may
// be called from any thread; each transaction takes a connection from a
// small per-process pool (`pool_size`) for its lifetime.
#ifndef DOORSTEP_SYNC_PG_SERVER_STORE_H_
#define DOORSTEP_SYNC_PG_SERVER_STORE_H_

#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/server_store.h"

namespace doorstep::sync {

inline constexpr size_t kDefaultPgPoolSize = 4;

// Connects with libpq `conninfo` ("host=/run/pg dbname=doorstep" or a
// postgresql:// URI), runs pending schema migrations, and checks `data_key`
// (32 bytes) against the stored key check. With `create`, makes a new store:
// kFailedPrecondition if the database already holds one. Without it:
// kNotFound if the database holds none. kUnauthenticated for the wrong key;
// kUnavailable if the server cannot be reached; kInvalidArgument for a
// malformed conninfo.
Result<std::unique_ptr<ServerStore>> OpenPgServerStore(const std::string& conninfo,
                                                       SecretBytes data_key, Env env, bool create,
                                                       size_t pool_size = kDefaultPgPoolSize);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_PG_SERVER_STORE_H_
