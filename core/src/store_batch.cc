// Store batches: several writes in one SQLite transaction (see store.h).
#include <sqlite3.h>

#include "doorstep/core/store.h"
#include "store_internal.h"

namespace doorstep::core {

Status Store::BeginBatch() {
  DS_RETURN_IF_ERROR(impl_->RequireUnlocked());
  if (sqlite3_get_autocommit(impl_->db().raw()) == 0) {
    return FailedPreconditionError("a batch is already open");
  }
  return impl_->db().Exec("BEGIN IMMEDIATE");
}

Status Store::CommitBatch() {
  if (sqlite3_get_autocommit(impl_->db().raw()) != 0) {
    return FailedPreconditionError("no batch is open");
  }
  return impl_->db().Exec("COMMIT");
}

}  // namespace doorstep::core
