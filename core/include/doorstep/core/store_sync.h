// The sync client's view of a device Store: the pending mutations to push,
// how push outcomes and pulled batches are applied, conflicts and their
// resolution, and purges. Each Apply* call commits in one transaction, so a
// sync cut at any byte resumes where it stopped (docs/sync.md).
// Thread safety: as Store (one owner at a time). REQUIRES: store unlocked.
#ifndef DOORSTEP_CORE_STORE_SYNC_H_
#define DOORSTEP_CORE_STORE_SYNC_H_

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/record.h"
#include "doorstep/core/status.h"
#include "doorstep/core/store.h"

namespace doorstep::core {

// One pending local change, frozen when it was made.
struct OutgoingMutation {
  std::string mutation_id;  // 32 hex, made here; the server applies it once
  std::string kind;         // "put" | "resolve"
  Record record;            // the record as this change left it (envelope + fields)
  int64_t version = 0;      // that version's row (versions.seq)
  int64_t seq = 0;          // its place in the queue (PendingMutations' `after`)
  int64_t base_rev = 0;     // server revision the change was made against
  // put: {field: {"from": value-or-null, "to": value-or-null}} for each
  // top-level field the change touched.
  nlohmann::json changes = nlohmann::json::object();
  // resolve: {"conflict_id", "path", "value"}.
  nlohmann::json resolve;
};

// Up to `limit` pending mutations, oldest first; with `after`, only those
// queued after the one whose OutgoingMutation::seq it is (a push that reads
// the queue a message at a time, sending each before reading the next).
Result<std::vector<OutgoingMutation>> PendingMutations(Store& store, size_t limit, int64_t after = 0);

struct MutationAck {
  std::string mutation_id;
  std::string outcome;  // applied | merged | conflict | rejected
  int64_t rev = 0;
  std::string reason;   // for rejected
  // Set by the server for an applied put whose revision `rev` is exactly
  // the pushed record but for rev and this time (docs/sync.md, "No echo").
  int64_t server_received_at = 0;
};

// A revision the server says is exactly one of this device's pushed records
// (an applied ack with server_received_at), for RecordPushedRevisions.
struct PushedRevision {
  std::string mutation_id;
  std::string record_id;   // the caller sets it (the record it pushed)
  int64_t version = 0;     // the pushed version's row (0: not found)
  int64_t rev = 0;
  int64_t server_received_at = 0;
  // The pushed version as the push read it (OutgoingMutation::record) and
  // the row it was read from; used only when that row is `version`, else
  // (or null) RecordPushedRevisions reads the version again.
  std::shared_ptr<const Record> record;
  int64_t record_version = 0;
};

// Applies the server's answers to a push: accepted mutations leave the queue;
// rejected ones stay, marked rejected with the reason (shown by status).
// If `pushed` is set, each applied ack with server_received_at appends its
// PushedRevision (its version found before its queue row goes; record_id
// left for the caller).
Status ApplyPushAcks(Store& store, const std::vector<MutationAck>& acks,
                     std::vector<PushedRevision>* pushed = nullptr);

// Records each revision as the pull would have written it (a new version
// with the server's rev and time, every still-pending local change on top),
// in one transaction, so the server need not send it back. Call after all
// of a session's acks, for the last answer of the session about each record.
// Only a revision built on a version known to be the server's own record
// (or a new record) is recorded; returns how many were not. For those the
// caller must not move its checkpoint past this session's pulls: the server
// left them out of those pulls, and the next session's pull brings them.
Result<int64_t> RecordPushedRevisions(Store& store, const std::vector<PushedRevision>& revisions);

struct PulledConflict {
  std::string conflict_id;
  std::string record_id;
  std::string subject_id;
  std::string state;    // open | resolved
  nlohmann::json body;  // everything the server says of it (values, authors, times)
};

struct PullOutcome {
  int64_t records = 0;
  int64_t conflicts = 0;
  int64_t purged = 0;   // records removed by purge notices
};

// Applies one pulled batch and moves the checkpoint to `checkpoint`, in one
// transaction. A record with local changes not yet pushed keeps them on top
// of the server's version.
Result<PullOutcome> ApplyPulledBatch(Store& store, const std::vector<Record>& records,
                                     const std::vector<PulledConflict>& conflicts,
                                     const std::vector<std::string>& purge_subjects,
                                     int64_t checkpoint);
// As above, taking the records over: each record's fields move into the
// store's write instead of being copied (the sync client's pulled batches).
// The records are left moved-from, whatever the outcome.
Result<PullOutcome> ApplyPulledBatch(Store& store, std::vector<Record>&& records,
                                     const std::vector<PulledConflict>& conflicts,
                                     const std::vector<std::string>& purge_subjects,
                                     int64_t checkpoint);

Result<int64_t> Checkpoint(Store& store);
Status SetLastSync(Store& store, int64_t at_ms);
// As SetLastSync, for a sync that wrote nothing else: the commit is not
// fsynced (WAL, synchronous=NORMAL for that one write), so a no-op sync does
// not wait for the disk. `status` shows it at once; a power cut before the
// next durable commit can only bring back the previous last-sync time. If
// synchronous=FULL cannot be restored afterwards, the connection is closed
// and kInternal returned: every later call fails until the store is reopened.
Status SetLastSyncUnsynced(Store& store, int64_t at_ms);
// Opens a batch (Store::BeginBatch) whose commit does not wait for the
// disk: synchronous=NORMAL until Store::CommitBatch, which sets FULL back
// (and closes the store, kInternal, if it cannot). Only for writes the
// server can give back: a sync session's acks and pulled batches (docs/
// sync.md, "Device commits"). A power cut before the next durable commit or
// checkpoint rolls them back whole (WAL); the pending mutations are pushed
// again and answered from their ids, the pull resumes from the older
// checkpoint. Never for a practitioner's own writes: the store has one owner
// at a time, so none can join the batch. kFailedPrecondition if a batch is
// already open.
Status BeginBatchUnsynced(Store& store);

// Conflicts known on this device: {"conflict_id","record_id","subject_id",
// "state", ...body}. Decrypted: callers print them only where that is their job.
Result<std::vector<nlohmann::json>> ListConflicts(Store& store, bool open_only);

// Resolves conflict `conflict_id` with `take` = "server" | "device" | "value"
// (then `value` is the new value). Writes the record locally and queues a
// resolve mutation, in one transaction. kNotFound for an unknown conflict;
// kFailedPrecondition if it is not open.
Status ResolveConflict(Store& store, std::string_view conflict_id, std::string_view take,
                       const nlohmann::json& value);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_STORE_SYNC_H_
