// The audit chain's hashing as both store backends append an entry: the
// details are dumped once, for the hash and for the row. Private to sync/.
// Thread safety: pure functions.
#ifndef DOORSTEP_SYNC_AUDIT_CHAIN_INTERNAL_H_
#define DOORSTEP_SYNC_AUDIT_CHAIN_INTERNAL_H_

#include <string>

#include "doorstep/sync/server_store.h"

namespace doorstep::sync::internal {

// Sets e->hash to AuditHash(*e) (e->prev_hash and e->id already set) and
// returns the details column: e->details as compact JSON, the same bytes
// AuditCanonicalBytes embeds.
std::string ChainAuditEntry(AuditEntry* e);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_AUDIT_CHAIN_INTERNAL_H_
