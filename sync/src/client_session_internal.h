// RunSession with a hook that runs before the session's device writes are
// committed. Private to sync/ (client_session.cc, client_connect.cc).
#ifndef DOORSTEP_SYNC_CLIENT_SESSION_INTERNAL_H_
#define DOORSTEP_SYNC_CLIENT_SESSION_INTERNAL_H_

#include <functional>

#include "doorstep/sync/client.h"

namespace doorstep::sync {

// As RunSession. On success, `finish` (if set) runs after the last message
// and before the session's store batch commits; `in_batch` says whether the
// session wrote anything (a batch is open), so a write made by `finish` then
// shares that commit. An error from `finish` fails the session.
Result<SyncReport> RunSessionThen(core::Store& store, MessageChannel& channel, const SyncOptions& options,
                                  const std::function<Status(bool in_batch)>& finish);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_CLIENT_SESSION_INTERNAL_H_
