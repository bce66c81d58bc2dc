// Store: the sync client's view (pending mutations, push acks, pulled
// batches, conflicts, purges). See store_sync.h and docs/sync.md.
#include "doorstep/core/store_sync.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>

#include "store_internal.h"

namespace doorstep::core {
namespace {

std::string ConflictAd(std::string_view conflict_id) { return "ds1|conflict|" + std::string(conflict_id); }

// "sections.health.needs" → "/sections/health/needs"; nullopt if malformed.
std::optional<nlohmann::json::json_pointer> PathToPointer(std::string_view path) {
  if (path.empty() || path.size() > 256) return std::nullopt;
  std::string ptr;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string_view part = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty()) return std::nullopt;
    for (char c : part) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return std::nullopt;
    }
    ptr += "/" + std::string(part);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return nlohmann::json::json_pointer(ptr);
}

}  // namespace

Result<std::vector<OutgoingMutation>> PendingMutations(Store& store, size_t limit, int64_t after) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  std::vector<OutgoingMutation> out;
  // One mutation from a row of either query: seq, session, record, action,
  // prev, version, detail, type.
  auto add = [&](Statement& st) -> Status {
    OutgoingMutation m;
    m.seq = st.ColumnInt(0);
    m.mutation_id = Store::Impl::MutationId(st.ColumnBlob(1), m.seq);
    std::string record_id = ToHex(st.ColumnBlob(2));
    m.kind = st.ColumnInt(3) == kActionResolve ? "resolve" : "put";
    int64_t from_seq = st.ColumnInt(4);
    int64_t to_seq = st.ColumnInt(5);
    std::string type = st.ColumnText(7);
    DS_ASSIGN_OR_RETURN(m.record, impl.ReadSeq(record_id, type, to_seq));
    m.version = to_seq;
    m.base_rev = m.record.base_rev;
    nlohmann::json from_fields = nlohmann::json::object();
    if (from_seq > 0) {
      DS_ASSIGN_OR_RETURN(Record before, impl.ReadSeq(record_id, type, from_seq));
      from_fields = std::move(before.fields);
      m.base_rev = before.rev;
    }
    const nlohmann::json& to_fields = m.record.fields;
    for (auto it = to_fields.begin(); it != to_fields.end(); ++it) {
      auto f = from_fields.find(it.key());
      if (f == from_fields.end() || *f != *it) {
        m.changes[it.key()] = {{"from", f == from_fields.end() ? nlohmann::json() : *f}, {"to", *it}};
      }
    }
    for (auto it = from_fields.begin(); it != from_fields.end(); ++it) {
      if (!to_fields.contains(it.key())) m.changes[it.key()] = {{"from", *it}, {"to", nullptr}};
    }
    if (m.kind == "resolve") {
      if (st.ColumnIsNull(6)) return CorruptionError("resolve mutation " + m.mutation_id + " lacks its detail");
      DS_ASSIGN_OR_RETURN(std::string plain, impl.Open(st.ColumnBlob(6), "ds1|pending|" + m.mutation_id));
      m.resolve = nlohmann::json::parse(plain, nullptr, false);
      if (!m.resolve.is_object()) return CorruptionError("resolve mutation " + m.mutation_id + " is malformed");
    }
    out.push_back(std::move(m));
    return Status::Ok();
  };
  // Mutations queued before store format 4 first: every one of them is
  // older than (has a lower seq than) every mutation queued in a version row.
  {
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
        "SELECT p.seq, p.session, v.record, v.action, v.prev, p.version, p.detail, r.type FROM pending p "
        "JOIN versions v ON v.seq = p.version JOIN records r ON r.id = v.record "
        "WHERE p.state=0 AND p.seq > ? ORDER BY p.seq LIMIT ?"));
    st.Bind(1, after).Bind(2, static_cast<int64_t>(limit));
    while (true) {
      DS_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      DS_RETURN_IF_ERROR(add(st));
    }
  }
  if (out.size() >= limit || after == std::numeric_limits<int64_t>::max()) return out;
  // Then the queue in the version rows, from queue_from (or the caller's
  // place) on, in seq order: each version's mutation is its own seq.
  DS_ASSIGN_OR_RETURN(int64_t queue_from, impl.QueueFrom());
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
      "SELECT v.seq, v.session, v.record, v.action, v.prev, v.seq, v.pdetail, r.type FROM versions v "
      "CROSS JOIN records r ON r.id = v.record "
      "WHERE v.seq >= ? AND v.session IS NOT NULL ORDER BY v.seq LIMIT ?"));
  st.Bind(1, std::max(queue_from, after + 1)).Bind(2, static_cast<int64_t>(limit - out.size()));
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DS_RETURN_IF_ERROR(add(st));
  }
  return out;
}

namespace {

// Local fields = server fields with every still-pending local change on top.
// `*overlaid` says whether any pending change was put on top.
Result<nlohmann::json> OverlayPending(Store::Impl& impl, const std::string& record_id, const std::string& type,
                                      int64_t head, nlohmann::json fields, bool* overlaid) {
  // The record's versions that a still-pending mutation pushes: walk the
  // chain back from the head (each version says whether it is queued, or
  // names its mutation's row in `pending`; no index is needed), then apply
  // them oldest first.
  DS_ASSIGN_OR_RETURN(const int64_t queue_from, impl.QueueFrom());
  std::vector<std::pair<int64_t, int64_t>> changes;  // (from_seq, to_seq), newest first
  for (int64_t seq = head; seq != 0;) {
    int64_t prev = 0, mutation = 0;
    bool queued = false;
    {
      DS_ASSIGN_OR_RETURN(StmtRef st,
                          impl.Stmt("SELECT prev, mutation, session IS NOT NULL FROM versions WHERE seq=?"));
      st->Bind(1, seq);
      DS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      prev = st->ColumnInt(0);
      mutation = st->ColumnInt(1);
      queued = seq >= queue_from && st->ColumnInt(2) != 0;
    }
    if (queued) {
      changes.emplace_back(prev, seq);
    } else if (mutation != 0) {
      // Queued before format 4: a pending mutation goes from its version's
      // `prev` to the version.
      DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT 1 FROM pending WHERE seq=? AND version=? AND state=0"));
      st->Bind(1, mutation).Bind(2, seq);
      DS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) changes.emplace_back(prev, seq);
    }
    if (prev >= seq) break;
    seq = prev;
  }
  *overlaid = !changes.empty();
  for (auto c = changes.rbegin(); c != changes.rend(); ++c) {
    auto [from, to] = *c;
    nlohmann::json before = nlohmann::json::object();
    if (from > 0) {
      DS_ASSIGN_OR_RETURN(Record b, impl.ReadSeq(record_id, type, from));
      before = std::move(b.fields);
    }
    DS_ASSIGN_OR_RETURN(Record after, impl.ReadSeq(record_id, type, to));
    for (auto it = after.fields.begin(); it != after.fields.end(); ++it) {
      auto f = before.find(it.key());
      if (f == before.end() || *f != *it) fields[it.key()] = *it;
    }
    for (auto it = before.begin(); it != before.end(); ++it) {
      if (!after.fields.contains(it.key())) fields.erase(it.key());
    }
  }
  return fields;
}

Result<int64_t> PurgeSubject(Store::Impl& impl, const std::string& subject) {
  // Records with a change the server refused are kept (and shown by status):
  // nothing a practitioner wrote is deleted unseen.
  const char* keep = "SELECT v.record FROM pending p JOIN versions v ON v.seq = p.version WHERE p.state=1";
  DS_ASSIGN_OR_RETURN(Statement count, Statement::Prepare(impl.db(),
      std::string("SELECT count(*) FROM records WHERE subject_id=? AND id NOT IN (") + keep + ")"));
  count.Bind(1, subject);
  DS_ASSIGN_OR_RETURN(bool row, count.Step());
  int64_t n = row ? count.ColumnInt(0) : 0;
  // Their queued (not rejected) mutations first, those of kept records
  // too: in their version rows, and those queued before format 4 (a
  // pending row names its record through its version).
  {
    DS_ASSIGN_OR_RETURN(int64_t queue_from, impl.QueueFrom());
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
        "UPDATE versions SET session=NULL, pdetail=NULL WHERE seq >= ?2 AND session IS NOT NULL AND record IN "
        "(SELECT id FROM records WHERE subject_id=?1)"));
    st.Bind(1, subject).Bind(2, queue_from);
    DS_RETURN_IF_ERROR(st.Run());
  }
  {
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
        "DELETE FROM pending WHERE state=0 AND (SELECT record FROM versions WHERE seq = pending.version) IN "
        "(SELECT id FROM records WHERE subject_id=?1)"));
    st.Bind(1, subject);
    DS_RETURN_IF_ERROR(st.Run());
  }
  // Every version of each purged record: walk its chain back from the head.
  std::vector<int64_t> heads;
  {
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
        std::string("SELECT head FROM records WHERE subject_id=? AND id NOT IN (") + keep + ")"));
    st.Bind(1, subject);
    while (true) {
      DS_ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) break;
      heads.push_back(st.ColumnInt(0));
    }
  }
  for (int64_t seq : heads) {
    while (seq != 0) {
      int64_t prev = 0;
      {
        DS_ASSIGN_OR_RETURN(StmtRef st, impl.Stmt("SELECT prev FROM versions WHERE seq=?"));
        st->Bind(1, seq);
        DS_ASSIGN_OR_RETURN(bool found, st->Step());
        if (!found) break;
        prev = st->ColumnInt(0);
      }
      DS_ASSIGN_OR_RETURN(StmtRef del, impl.Stmt("DELETE FROM versions WHERE seq=?"));
      del->Bind(1, seq);
      DS_RETURN_IF_ERROR(del->Run());
      if (prev >= seq) break;
      seq = prev;
    }
  }
  for (const std::string& sql : {std::string("DELETE FROM conflicts WHERE subject_id=?1"),
                                  std::string("DELETE FROM records WHERE subject_id=?1 AND id NOT IN (") + keep + ")"}) {
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(), sql));
    st.Bind(1, subject);
    DS_RETURN_IF_ERROR(st.Run());
  }
  return n;
}

}  // namespace

Result<bool> WriteServerRevision(Store::Impl& impl, Record r) {
  // The clear row says whether we have it and at which revision: no
  // version is opened unless local changes must go on top.
  auto current = impl.Head(r.id);
  bool existed = current.ok();
  if (!existed && current.status().code() != StatusCode::kNotFound) return current.status();
  if (existed && current->type != r.type) {
    return InvalidArgumentError("pulled record " + r.id + " changed its type");
  }
  if (existed && current->rev >= r.rev) return false;  // already have it
  r.local_version = existed ? current->local_version + 1 : 1;
  bool overlaid = false;
  if (existed) {
    DS_ASSIGN_OR_RETURN(r.fields, OverlayPending(impl, r.id, r.type, current->head, std::move(r.fields), &overlaid));
  }
  DS_RETURN_IF_ERROR(
      impl.WriteVersion(r, existed ? current->head : 0, "server", overlaid ? kActionPulled : kActionServer).status());
  return true;
}

Result<PullOutcome> ApplyPulledBatch(Store& store, const std::vector<Record>& records,
                                     const std::vector<PulledConflict>& conflicts,
                                     const std::vector<std::string>& purge_subjects,
                                     int64_t checkpoint) {
  std::vector<Record> copy = records;
  return ApplyPulledBatch(store, std::move(copy), conflicts, purge_subjects, checkpoint);
}

Result<PullOutcome> ApplyPulledBatch(Store& store, std::vector<Record>&& records,
                                     const std::vector<PulledConflict>& conflicts,
                                     const std::vector<std::string>& purge_subjects,
                                     int64_t checkpoint) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  PullOutcome out;
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl.db()));
  for (Record& incoming : records) {
    if (!IsRecordId(incoming.id) || !IsOpaqueId(incoming.subject_id)) {
      return InvalidArgumentError("pulled record has a malformed id or subject");
    }
    // Each record is written once: its fields move, not copy.
    DS_ASSIGN_OR_RETURN(bool wrote, WriteServerRevision(impl, std::move(incoming)));
    if (wrote) ++out.records;
  }
  for (const PulledConflict& c : conflicts) {
    DS_ASSIGN_OR_RETURN(std::string sealed, impl.Seal(c.body.dump(), ConflictAd(c.conflict_id)));
    DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
        "INSERT INTO conflicts(conflict_id, record_id, subject_id, state, body) VALUES(?,?,?,?,?) "
        "ON CONFLICT(conflict_id) DO UPDATE SET state=excluded.state, body=excluded.body"));
    st.Bind(1, c.conflict_id).Bind(2, c.record_id).Bind(3, c.subject_id).Bind(4, c.state).BindBlob(5, sealed);
    DS_RETURN_IF_ERROR(st.Run());
    ++out.conflicts;
  }
  for (const std::string& subject : purge_subjects) {
    DS_ASSIGN_OR_RETURN(int64_t n, PurgeSubject(impl, subject));
    out.purged += n;
    DS_RETURN_IF_ERROR(impl.Audit("purge", "", {{"records", n}}));
  }
  DS_RETURN_IF_ERROR(impl.SetMetaInt("checkpoint", checkpoint));
  DS_RETURN_IF_ERROR(MoveQueueFrom(impl));  // past the rows just pulled, if nothing is queued
  if (out.records || out.conflicts) {
    DS_RETURN_IF_ERROR(impl.Audit("pull", "", {{"records", out.records}, {"conflicts", out.conflicts}}));
  }
  DS_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<int64_t> Checkpoint(Store& store) { return store.impl()->GetMetaInt("checkpoint", 0); }

Status SetLastSync(Store& store, int64_t at_ms) { return store.impl()->SetMetaInt("last_sync_at", at_ms); }

Status SetLastSyncUnsynced(Store& store, int64_t at_ms) {
  Store::Impl& impl = *store.impl();
  if (sqlite3_get_autocommit(impl.db().raw()) == 0) return impl.SetMetaInt("last_sync_at", at_ms);
  // WAL with synchronous=NORMAL for this one commit: the write is in the WAL,
  // seen by every later reader, and reaches the disk with the next durable
  // commit or checkpoint; only a power cut before then loses it.
  DS_RETURN_IF_ERROR(impl.db().ExecCached("PRAGMA synchronous=NORMAL"));
  Status s = impl.SetMetaInt("last_sync_at", at_ms);
  DS_RETURN_IF_ERROR(impl.RestoreFullSync());
  return s;
}

Status BeginBatchUnsynced(Store& store) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  if (sqlite3_get_autocommit(impl.db().raw()) == 0) return FailedPreconditionError("a batch is already open");
  // SQLite takes the safety level only outside a transaction: set before
  // BEGIN, it holds for the batch's commit; CommitBatch sets FULL back.
  DS_RETURN_IF_ERROR(impl.db().ExecCached("PRAGMA synchronous=NORMAL"));
  Status s = store.BeginBatch();
  if (!s.ok()) {
    DS_RETURN_IF_ERROR(impl.RestoreFullSync());
    return s;
  }
  impl.unsynced_batch = true;
  return s;
}

Result<std::vector<nlohmann::json>> ListConflicts(Store& store, bool open_only) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
      "SELECT conflict_id, record_id, subject_id, state, body FROM conflicts "
      "WHERE (?1 = 0 OR state='open') ORDER BY conflict_id"));
  st.Bind(1, open_only ? 1 : 0);
  std::vector<nlohmann::json> out;
  while (true) {
    DS_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string id = st.ColumnText(0);
    DS_ASSIGN_OR_RETURN(std::string plain, impl.Open(st.ColumnBlob(4), ConflictAd(id)));
    auto body = nlohmann::json::parse(plain, nullptr, false);
    if (!body.is_object()) return DataLossError("conflict " + id + " is malformed");
    body["conflict_id"] = id;
    body["record_id"] = st.ColumnText(1);
    body["subject_id"] = st.ColumnText(2);
    body["state"] = st.ColumnText(3);
    out.push_back(std::move(body));
  }
  return out;
}

Status ResolveConflict(Store& store, std::string_view conflict_id, std::string_view take,
                       const nlohmann::json& value) {
  Store::Impl& impl = *store.impl();
  DS_RETURN_IF_ERROR(impl.RequireUnlocked());
  DS_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(impl.db()));
  DS_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(impl.db(),
      "SELECT record_id, state, body FROM conflicts WHERE conflict_id=?"));
  st.Bind(1, conflict_id);
  DS_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFoundError("no conflict " + std::string(conflict_id));
  std::string record_id = st.ColumnText(0);
  if (st.ColumnText(1) != "open") {
    return FailedPreconditionError("conflict " + std::string(conflict_id) + " is already " + st.ColumnText(1));
  }
  DS_ASSIGN_OR_RETURN(std::string plain, impl.Open(st.ColumnBlob(2), ConflictAd(conflict_id)));
  auto body = nlohmann::json::parse(plain, nullptr, false);
  if (!body.is_object() || !body.contains("path") || !body["path"].is_string()) {
    return DataLossError("conflict " + std::string(conflict_id) + " is malformed");
  }
  nlohmann::json chosen;
  if (take == "server" || take == "device") {
    if (!body.contains(std::string(take))) return DataLossError("conflict lacks the " + std::string(take) + " value");
    chosen = body[std::string(take)];
  } else if (take == "value") {
    chosen = value;
  } else {
    return InvalidArgumentError("take must be 'server', 'device' or 'value'");
  }
  std::string path = body["path"].get<std::string>();
  auto ptr = PathToPointer(path);
  if (!ptr) return DataLossError("conflict path is malformed");
  DS_ASSIGN_OR_RETURN(RecordHead head, impl.Head(record_id));
  DS_ASSIGN_OR_RETURN(Record r, impl.ReadSeq(record_id, head.type, head.head));
  int64_t from_version = r.local_version;
  if (chosen.is_null()) {
    if (r.fields.contains(*ptr)) {
      auto parent = ptr->parent_pointer();
      r.fields[parent].erase(ptr->back());
    }
  } else {
    r.fields[*ptr] = chosen;
  }
  r.local_version = from_version + 1;
  r.base_rev = r.rev;
  r.device_id = store.device_id();
  r.author_id = impl.author_id;
  r.updated_at = impl.env().clock->NowMillis();
  DS_ASSIGN_OR_RETURN(r.hlc, impl.NextHlc());
  nlohmann::json detail = {{"conflict_id", conflict_id}, {"path", path}, {"value", chosen}};
  DS_RETURN_IF_ERROR(impl.WriteVersion(r, head.head, "local", kActionResolve, &detail).status());
  DS_ASSIGN_OR_RETURN(Statement up, Statement::Prepare(impl.db(),
      "UPDATE conflicts SET state='resolving' WHERE conflict_id=?"));
  up.Bind(1, conflict_id);
  DS_RETURN_IF_ERROR(up.Run());
  DS_RETURN_IF_ERROR(impl.Audit("resolve", record_id, {{"conflict_id", conflict_id}, {"take", take}}));
  return txn.Commit();
}

}  // namespace doorstep::core
