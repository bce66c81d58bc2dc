// Store batches: several writes in one SQLite transaction (see store.h).
#include <sqlite3.h>

#include "doorstep/core/store.h"
#include "store_internal.h"

namespace doorstep::core {

Status Store::Impl::RestoreFullSync() {
  Status back = db().ExecCached("PRAGMA synchronous=FULL");
  if (back.ok()) return back;
  Close();
  return InternalError("could not restore synchronous=FULL after an unsynced commit (" + back.message() +
                       "); the store was closed and must be opened again");
}

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
  Status s = impl_->db().Exec("COMMIT");
  if (!impl_->unsynced_batch) return s;
  // An unsynced batch (BeginBatchUnsynced): FULL again, whatever the commit
  // did. A commit that failed may leave the transaction open; it is rolled
  // back first (SQLite changes the safety level only outside one).
  impl_->unsynced_batch = false;
  if (sqlite3_get_autocommit(impl_->db().raw()) == 0) (void)impl_->db().Exec("ROLLBACK");
  DS_RETURN_IF_ERROR(impl_->RestoreFullSync());
  return s;
}

}  // namespace doorstep::core
