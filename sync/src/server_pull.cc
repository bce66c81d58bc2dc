// ServerCore::Pull: one batch of changes after a checkpoint, read from a
// fixed upper bound, for the subjects on the practitioner's caseload.
//
// Changes are ordered by position: a revision or conflict change by its seq;
// the snapshot of a newly assigned subject (its heads and conflicts with
// seq <= since, which the device skipped while the subject was not its) by
// the seq of the assign event. A batch holds whole positions, so its
// checkpoint (the last whole position, or the upper bound when nothing is
// left) never skips anything. Only a snapshot bigger than one batch is split,
// resumed within the session through the PullCursor.
#include <algorithm>
#include <set>

#include "protocol_internal.h"
#include "server_core_internal.h"

namespace doorstep::sync {

namespace {

constexpr size_t kBatchByteBudget = 8u << 20;

struct Item {
  uint64_t pos;
  int kind;  // 0 conflict, 1 record
  size_t index;
};

}  // namespace

Result<Batch> ServerCore::Pull(const SessionContext& ctx, PullCursor* cursor, uint64_t since,
                               size_t max) {
  nlohmann::json audit;
  std::string actor;
  DS_ASSIGN_OR_RETURN(Batch b, ReadPull(ctx, cursor, since, max, &audit, &actor));
  if (!audit.is_null()) {
    DS_ASSIGN_OR_RETURN(auto wtxn, store_->Begin(TxnMode::kWrite));
    DS_RETURN_IF_ERROR(internal::AppendAuditEntry(*wtxn, env_, actor, "pull", std::move(audit)));
    DS_RETURN_IF_ERROR(wtxn->Commit());
  }
  return b;
}

Result<Batch> ServerCore::ReadPull(const SessionContext& ctx, PullCursor* cursor, uint64_t since,
                                   size_t max, nlohmann::json* audit, std::string* actor) {
  *audit = nullptr;
  if (max == 0) max = kDefaultBatchRecords;
  max = std::min(max, kMaxRecordsPerBatch);
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kRead));
  DS_ASSIGN_OR_RETURN(DeviceInfo d, CheckDevice(*txn, ctx));
  const std::string& who = d.practitioner_id;
  if (cursor->upto == 0 || cursor->upto < since) {
    DS_ASSIGN_OR_RETURN(cursor->upto, txn->MaxSeq());
    cursor->upto = std::max(cursor->upto, since);
  }
  const uint64_t upto = cursor->upto;
  Batch b;

  DS_ASSIGN_OR_RETURN(std::vector<CaseloadEntry> caseload, txn->ListCaseload(who));
  std::set<std::string> on_caseload;
  for (const auto& e : caseload) on_caseload.insert(e.subject_id);
  DS_ASSIGN_OR_RETURN(std::vector<CaseloadEvent> events, txn->CaseloadEvents(who, since, upto));
  std::set<std::string> purge;
  for (const auto& e : events) {
    if (e.kind == "unassign" && on_caseload.count(e.subject_id) == 0) purge.insert(e.subject_id);
  }
  b.purge.assign(purge.begin(), purge.end());
  if (b.purge.size() > kMaxPurgePerBatch) b.purge.resize(kMaxPurgePerBatch);

  std::vector<StoredRecord> records;
  std::vector<StoredConflict> conflicts;
  std::vector<Item> items;
  // Snapshots of subjects assigned after `since`.
  uint64_t resume_pos = 0, resume_offset = 0;
  if (cursor->resume_since == since && cursor->resume_position != 0) {
    resume_pos = cursor->resume_position;
    resume_offset = cursor->resume_offset;
  }
  for (const auto& e : caseload) {
    if (e.assigned_seq <= since || e.assigned_seq > upto || since == 0) continue;
    if (records.size() > max) break;  // later positions cannot fit anyway
    uint64_t offset = e.assigned_seq == resume_pos ? resume_offset : 0;
    DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> heads,
                        txn->SubjectHeads(e.subject_id, "", since, offset, max + 1, /*raw=*/true));
    for (auto& h : heads) {
      items.push_back({e.assigned_seq, 1, records.size()});
      records.push_back(std::move(h));
    }
    if (offset == 0) {
      DS_ASSIGN_OR_RETURN(std::vector<StoredConflict> cs,
                          txn->SubjectConflicts(e.subject_id, since, kMaxConflictsPerBatch));
      for (auto& c : cs) {
        items.push_back({e.assigned_seq, 0, conflicts.size()});
        conflicts.push_back(std::move(c));
      }
    }
  }
  // The change stream.
  DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> heads, txn->ChangedHeads(who, since, upto, max + 1, /*raw=*/true));
  for (auto& h : heads) {
    items.push_back({h.seq, 1, records.size()});
    records.push_back(std::move(h));
  }
  DS_ASSIGN_OR_RETURN(std::vector<StoredConflict> cs,
                      txn->ChangedConflicts(who, since, upto, kMaxConflictsPerBatch + 1));
  for (auto& c : cs) {
    items.push_back({c.seq, 0, conflicts.size()});
    conflicts.push_back(std::move(c));
  }
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& x) {
    if (a.pos != x.pos) return a.pos < x.pos;
    return a.kind < x.kind;  // stable by fetch order within a kind
  });

  size_t n_rec = 0, n_con = 0, bytes = 0;
  uint64_t last_full = since;
  bool more = false, partial = false;
  std::vector<size_t> take_rec, take_con;
  for (size_t i = 0; i < items.size();) {
    size_t j = i, g_rec = 0, g_con = 0, g_bytes = 0;
    while (j < items.size() && items[j].pos == items[i].pos) {
      if (items[j].kind == 1) {
        ++g_rec;
        g_bytes += records[items[j].index].stored_bytes;
      } else {
        ++g_con;
      }
      ++j;
    }
    bool fits = n_rec + g_rec <= max && n_con + g_con <= kMaxConflictsPerBatch &&
                (bytes + g_bytes <= kBatchByteBudget || (n_rec == 0 && n_con == 0 && g_rec <= 1));
    if (fits) {
      for (size_t k = i; k < j; ++k) (items[k].kind == 1 ? take_rec : take_con).push_back(items[k].index);
      n_rec += g_rec;
      n_con += g_con;
      bytes += g_bytes;
      last_full = items[i].pos;
      i = j;
      continue;
    }
    more = true;
    if (n_rec == 0 && n_con == 0) {
      // One snapshot bigger than a batch: send part of it, resume in-session.
      size_t taken_heads = 0;
      for (size_t k = i; k < j; ++k) {
        if (items[k].kind == 0) {
          if (take_con.size() < kMaxConflictsPerBatch) take_con.push_back(items[k].index);
          continue;
        }
        size_t sz = records[items[k].index].stored_bytes;
        if (taken_heads >= max || (taken_heads > 0 && bytes + sz > kBatchByteBudget)) continue;
        take_rec.push_back(items[k].index);
        bytes += sz;
        ++taken_heads;
      }
      partial = true;
      uint64_t base = items[i].pos == resume_pos ? resume_offset : 0;
      cursor->resume_since = since;
      cursor->resume_position = items[i].pos;
      cursor->resume_offset = base + taken_heads;
    }
    break;
  }
  if (!more && (heads.size() > max || cs.size() > kMaxConflictsPerBatch)) more = true;

  for (size_t idx : take_rec) {
    // The device made this head itself and was told so (PullCursor::held):
    // it is not sent back. Its position still counts toward the checkpoint.
    const StoredRecord& h = records[idx];
    auto held = cursor->held.find(h.record.id);
    if (held != cursor->held.end() && held->second.rev == h.record.rev &&
        held->second.mutation_id == h.mutation_id) {
      continue;
    }
    // A revision stored before protocol 2 is rewritten into the wire form.
    DS_RETURN_IF_ERROR(internal::UpgradeStoredRecord(&records[idx].cbor));
    b.raw_records.push_back(std::move(records[idx].cbor));
  }
  for (size_t idx : take_con) b.conflicts.push_back(std::move(conflicts[idx].info));
  b.more = more;
  b.checkpoint = more ? last_full : upto;
  if (!partial) cursor->resume_since = cursor->resume_position = cursor->resume_offset = 0;
  if (!more) cursor->upto = 0;
  txn.reset();
  if (!b.raw_records.empty() || !b.conflicts.empty() || !b.purge.empty()) {
    *actor = internal::DeviceActor(d.device_id);
    *audit = {{"device", d.device_id}, {"records", b.raw_records.size()}, {"conflicts", b.conflicts.size()},
              {"purge", b.purge.size()}, {"checkpoint", b.checkpoint}};
  }
  return b;
}

}  // namespace doorstep::sync
