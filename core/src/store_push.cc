// Store: the sync client's view of push answers (store_sync.h): acks, and
// the revisions a push's answer lets the device record itself instead of
// pulling them back (docs/sync.md, "No echo").
#include "doorstep/core/store_sync.h"

#include <algorithm>
#include <optional>
#include <set>

#include "store_internal.h"

namespace doorstep::core {

Status MoveQueueFrom(Store::Impl& impl, const std::set<int64_t>& ended) {
  DS_ASSIGN_OR_RETURN(const int64_t queue_from, impl.QueueFrom());
  // The oldest mutation still queued; if none, past the last row.
  std::optional<int64_t> oldest;
  {
    DS_ASSIGN_OR_RETURN(StmtRef st,
                        impl.Stmt("SELECT seq FROM versions WHERE seq >= ? AND session IS NOT NULL ORDER BY seq"));
    st->Bind(1, queue_from);
    while (!oldest) {
      DS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      int64_t seq = st->ColumnInt(0);
      if (ended.count(seq) == 0) oldest = seq;
    }
  }
  int64_t from = queue_from;
  if (oldest) {
    from = *oldest;
  } else {
    DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT coalesce(max(seq), 0) + 1 FROM versions"));
    DS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) from = std::max(from, st->ColumnInt(0));
  }
  // Ended rows the new queue_from does not pass: answered ahead of an older
  // mutation still queued (an answer lost part way, a retry).
  for (auto it = ended.lower_bound(from); it != ended.end(); ++it) {
    DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("UPDATE versions SET session=NULL, pdetail=NULL WHERE seq=?"));
    st->Bind(1, *it);
    DS_RETURN_IF_ERROR(st->Run());
  }
  if (from == queue_from) return Status::Ok();
  return impl.SetMetaInt("queue_from", from);
}

Status ApplyPushAcks(Store& store, const std::vector<MutationAck>& acks, std::vector<PushedRevision>* pushed) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl.db()));
  DS_ASSIGN_OR_RETURN(const int64_t queue_from, impl.QueueFrom());
  // The version rows whose queued mutation this answer ends (store format 4).
  std::set<int64_t> ended;
  for (const MutationAck& a : acks) {
    // The mutation id names its row (Store::Impl::MutationId): no index
    // needed. An id that cannot be ours matches no row (seq 0).
    std::string session;
    int64_t seq = 0;
    if (!Store::Impl::ParseMutationId(a.mutation_id, &session, &seq)) seq = 0;
    // Queued in its version row (the mutation is the version's seq), or
    // else, if it was queued before format 4, in `pending`.
    bool in_version = false;
    if (seq >= queue_from && ended.count(seq) == 0) {
      DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT 1 FROM versions WHERE seq=?1 AND mutation=?1 AND session=?2"));
      st->Bind(1, seq).BindBlob(2, session);
      DS_ASSIGN_OR_RETURN(in_version, st->Step());
    }
    if (a.outcome == "rejected") {
      nlohmann::json d = {{"reason", a.reason}};
      DS_ASSIGN_OR_RETURN(std::string sealed, impl.Seal(d.dump(), "ds1|pending|" + a.mutation_id));
      // A rejected mutation is kept in `pending` (state 1) until the
      // practitioner acts.
      DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt(
          in_version ? "INSERT INTO pending(seq, version, session, state, detail) VALUES(?2, ?2, ?3, 1, ?1)"
                     : "UPDATE pending SET state=1, detail=?1 WHERE seq=?2 AND session=?3 AND state=0"));
      st->BindBlob(1, sealed).Bind(2, seq).BindBlob(3, session);
      DS_RETURN_IF_ERROR(st->Run());
      DS_RETURN_IF_ERROR(impl.Audit("push_rejected", "", {{"mutation_id", a.mutation_id}}));
    } else {
      if (pushed != nullptr && a.outcome == "applied" && a.server_received_at > 0) {
        // The version it pushed, for RecordPushedRevisions. (By the row's
        // key: a join with versions here was planned as a scan of versions
        // per ack.)
        PushedRevision p;
        p.mutation_id = a.mutation_id;
        p.rev = a.rev;
        p.server_received_at = a.server_received_at;
        if (in_version) {
          p.version = seq;
        } else {
          DS_ASSIGN_OR_RETURN(StmtRef st,
                              impl.Stmt("SELECT version FROM pending WHERE seq=? AND session=? AND state=0"));
          st->Bind(1, seq).BindBlob(2, session);
          DS_ASSIGN_OR_RETURN(bool row, st->Step());
          if (row) p.version = st->ColumnInt(0);
        }
        pushed->push_back(std::move(p));
      }
      if (!in_version) {
        DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("DELETE FROM pending WHERE seq=? AND session=? AND state=0"));
        st->Bind(1, seq).BindBlob(2, session);
        DS_RETURN_IF_ERROR(st->Run());
      }
    }
    if (in_version) ended.insert(seq);
  }
  DS_RETURN_IF_ERROR(MoveQueueFrom(impl, ended));
  DS_RETURN_IF_ERROR(impl.Audit("push", "", {{"mutations", acks.size()}}));
  return txn.Commit();
}

namespace {

// Records one pushed revision (see RecordPushedRevisions); false if it cannot.
Result<bool> RecordPushedRevision(Store::Impl& impl, const PushedRevision& p) {
  if (p.version == 0 || !IsRecordId(p.record_id) || p.rev < 1) return false;
  int64_t prev = 0, action = 0;
  {
    DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT prev, action, record FROM versions WHERE seq=?"));
    st->Bind(1, p.version);
    DS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row || st->ColumnBlob(2) != RawId(p.record_id)) return false;
    prev = st->ColumnInt(0);
    action = st->ColumnInt(1);
  }
  if (action != kActionAdd && action != kActionEdit && action != kActionAmend) return false;
  // The server took the pushed changes onto its head, which was the
  // device's base revision (rev - 1), as they were. The pushed record is
  // then the revision only if the version it was edited from held exactly
  // that revision (or it is a new record): a pulled version with local
  // changes on top, or an earlier local edit the server refused or kept as a
  // conflict, differs from the server's record in fields the push did not
  // name. The pull brings those.
  if (prev != 0) {
    DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT action FROM versions WHERE seq=?"));
    st->Bind(1, prev);
    DS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row || st->ColumnInt(0) != kActionServer) return false;
  }
  auto head = impl.Head(p.record_id);
  if (head.status().code() == StatusCode::kNotFound) return false;
  if (!head.ok()) return head.status();
  // Versions never change: the one the push read is this row's (checked:
  // same row, record and type), so it is not opened and parsed again.
  Record r;
  if (p.record != nullptr && p.record_version == p.version && p.record->id == p.record_id &&
      p.record->type == head->type) {
    r = *p.record;
  } else {
    DS_ASSIGN_OR_RETURN(r, impl.ReadSeq(p.record_id, head->type, p.version));
  }
  if (r.rev != p.rev - 1 || r.base_rev != p.rev - 1 || r.deleted) return false;
  r.rev = p.rev;
  r.server_received_at = p.server_received_at;
  DS_RETURN_IF_ERROR(WriteServerRevision(impl, std::move(r)).status());
  return true;
}

}  // namespace

Result<int64_t> RecordPushedRevisions(Store& store, const std::vector<PushedRevision>& revisions) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  if (revisions.empty()) return int64_t{0};
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl.db()));
  int64_t missed = 0;
  for (const PushedRevision& p : revisions) {
    DS_ASSIGN_OR_RETURN(bool recorded, RecordPushedRevision(impl, p));
    if (!recorded) ++missed;
  }
  DS_RETURN_IF_ERROR(MoveQueueFrom(impl));  // past the rows just written, if nothing is queued
  DS_RETURN_IF_ERROR(txn.Commit());
  return missed;
}

}  // namespace doorstep::core
