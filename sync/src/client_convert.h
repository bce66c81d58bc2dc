// Conversions between the core's records/mutations and the wire's messages.
#ifndef DOORSTEP_SYNC_CLIENT_CONVERT_H_
#define DOORSTEP_SYNC_CLIENT_CONVERT_H_

#include "doorstep/core/record.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync {

// Moves the mutation's changes (and a resolve's value) out of `m`; its
// record is copied from and left whole (the session may record it: see
// core::PushedRevision::record).
Mutation ToWireMutation(core::OutgoingMutation& m);
// Moves the record out of `p` (a pulled batch is applied once).
core::Record ToCoreRecord(PulledRecord&& p);
core::PulledConflict ToCoreConflict(const ConflictInfo& c);
// Maps a server `error` message onto a Status (revoked and refusals →
// kPermissionDenied, rate limits and busy → kUnavailable, versions →
// kFailedPrecondition).
Status StatusFromWireError(const Error& e);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_CLIENT_CONVERT_H_
