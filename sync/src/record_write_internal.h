// A stored revision's body written straight to CBOR (CborWriter), byte for
// byte what json::to_cbor(internal::ToJson(record)) gives, so rows written
// before and after read the same. The server stores one per pushed change;
// building the json tree first (a deep copy of the fields) then converting
// it was a good part of the committer's CPU per mutation. Private to sync/.
// Thread safety: a pure function.
#ifndef DOORSTEP_SYNC_RECORD_WRITE_INTERNAL_H_
#define DOORSTEP_SYNC_RECORD_WRITE_INTERNAL_H_

#include <string>

#include "doorstep/sync/protocol.h"

namespace doorstep::sync::internal {

// The record in its wire form (protocol_encode.cc's ToJson), as CBOR bytes.
std::string EncodeRecordCbor(const PulledRecord& r);

}  // namespace doorstep::sync::internal

#endif  // DOORSTEP_SYNC_RECORD_WRITE_INTERNAL_H_
