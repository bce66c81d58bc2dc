// ApplyMutation, the per-mutation push logic (ApplyPush: server_push_batch.cc):
// role and caseload checks, three-way field merge (core/merge.h), kept
// conflicts, validation, flags, amendments of final records (docs/sync.md).
#include <algorithm>

#include "doorstep/core/crypto.h"
#include "doorstep/core/hlc.h"
#include "doorstep/core/merge.h"
#include "doorstep/core/schema.h"
#include "server_core_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

namespace internal {

std::string_view PathHead(std::string_view path) { return path.substr(0, path.find('.')); }

std::string_view PathRest(std::string_view path) {
  size_t dot = path.find('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
}

json GetPath(const json& root, std::string_view path) {
  if (path.empty()) return root;
  if (!root.is_object()) return nullptr;
  auto it = root.find(std::string(PathHead(path)));
  if (it == root.end()) return nullptr;
  return GetPath(*it, PathRest(path));
}

void SetPath(json* root, std::string_view path, const json& value) {
  if (path.empty()) {
    *root = value;
    return;
  }
  if (!root->is_object()) {
    if (value.is_null()) return;
    *root = json::object();
  }
  std::string head(PathHead(path));
  std::string_view rest = PathRest(path);
  if (rest.empty()) {
    if (value.is_null()) {
      root->erase(head);
    } else {
      (*root)[head] = value;
    }
    return;
  }
  if (!root->contains(head)) {
    if (value.is_null()) return;
    (*root)[head] = json::object();
  }
  SetPath(&(*root)[head], rest, value);
}

namespace {

std::string RandomHexId(Random& random) {
  unsigned char b[16];
  random.Fill(b, sizeof b);
  return core::ToHex(std::string(reinterpret_cast<char*>(b), sizeof b));
}

MutationResult Rejected(const Mutation& m, std::string reason, std::vector<Problem> problems = {}) {
  MutationResult r;
  r.id = m.mutation_id;
  r.outcome = Outcome::kRejected;
  r.reason = std::move(reason);
  r.problems = std::move(problems);
  return r;
}

std::vector<Problem> ToProblems(const std::vector<core::Problem>& ps) {
  std::vector<Problem> out;
  for (const auto& p : ps) {
    if (out.size() >= kMaxProblems) break;
    out.push_back(Problem{p.path.substr(0, kMaxPathBytes), p.code.substr(0, kMaxTokenBytes),
                          p.message.substr(0, kMaxTextBytes)});
  }
  return out;
}

// What a put or resolve would write: fields, status and conflict changes,
// computed before anything is stored so that a rejection stores nothing.
struct Plan {
  json fields = json::object();
  std::string status = "draft";
  std::vector<StoredConflict> conflict_writes;  // new or updated conflicts
  std::vector<std::string> conflict_ids;        // reported to the device
  // Every changed field's `from` was the head's value (or the record is new)
  // and no conflict is open on the record: the device's values land as they
  // are. With the device's envelope (IsDevicesRecord) the revision is then
  // exactly the device's record (docs/sync.md, "No echo").
  bool exact = false;
};

// True if `rec` carries the device's envelope and each field `m` changed at
// the device's value: then, the device's base being the head (and its other
// fields the head's, which the device checks), `rec` is the device's record
// but for rev and server_received_at.
bool IsDevicesRecord(const PulledRecord& rec, const Mutation& m) {
  if (rec.status != m.status || rec.flags != m.flags || rec.amends != m.amends || rec.hlc != m.hlc ||
      rec.created_at != m.created_at || rec.updated_at != m.updated_at ||
      rec.schema_version != m.schema_version || rec.author_id != m.author_id || rec.device_id != m.device_id ||
      rec.base_rev != m.base_rev || rec.deleted) {
    return false;
  }
  for (const auto& [field, ch] : m.changes) {
    auto it = rec.fields.find(field);
    if (ch.to.is_null() ? it != rec.fields.end() : (it == rec.fields.end() || *it != ch.to)) return false;
  }
  return true;
}

// A merge of concurrent edits can break a rule that neither side broke (two
// workers each delete a different line of a required text, and the merge is
// empty). Each top-level field named by a problem whose merged value is
// neither side's becomes a conflict — both wordings kept, the record keeps the
// server's — rather than the device's work being refused. True if any did.
bool KeepBrokenMergesAsConflicts(Env env, const SessionContext& who, const Mutation& m,
                                 const StoredRecord& head, const std::vector<core::Problem>& problems,
                                 int64_t now, Plan* plan) {
  bool any = false;
  std::vector<std::string> done;
  for (const core::Problem& p : problems) {
    std::string top(PathHead(p.path));
    if (std::find(done.begin(), done.end(), top) != done.end()) continue;
    done.push_back(top);
    auto ch = m.changes.find(top);
    if (ch == m.changes.end()) continue;
    const json& fields = head.record.fields;
    json server_value = fields.contains(top) ? fields[top] : json(nullptr);
    json merged = plan->fields.contains(top) ? plan->fields[top] : json(nullptr);
    if (merged == ch->second.to || merged == server_value) continue;  // not made by a merge
    StoredConflict c;
    c.info.conflict_id = RandomHexId(*env.random);
    c.info.record_id = m.record_id;
    c.info.subject_id = m.subject_id;
    c.info.type = m.type;
    c.info.path = top;
    c.info.base = ch->second.from;
    c.info.server = server_value;
    c.info.device = ch->second.to;
    c.info.server_author = head.record.author_id;
    c.info.device_author = who.practitioner_id;
    c.info.server_time = head.record.server_received_at;
    c.info.device_time = m.updated_at;
    c.info.base_rev = m.base_rev;
    c.opened_at = now;
    if (server_value.is_null()) {
      plan->fields.erase(top);
    } else {
      plan->fields[top] = server_value;
    }
    plan->conflict_ids.push_back(c.info.conflict_id);
    plan->conflict_writes.push_back(std::move(c));
    any = true;
  }
  return any;
}

// Validates the planned record, sets flags (duplicate_term included), and
// writes the revision (if anything changed, and always for a resolution) and
// the conflict changes.
Result<MutationResult> Commit(ServerTxn& txn, Env env, const SessionContext& who,
                              const core::RecordSchema& schema, const Mutation& m,
                              const std::optional<StoredRecord>& head, Plan plan, int64_t now) {
  MutationResult r;
  r.id = m.mutation_id;
  // A resolution that keeps the server's provisional value changes no field,
  // but it is an event on the record (who closed the conflict, when), and the
  // resolving device already holds it as a new version with its own author,
  // clock and time: without a revision that device would keep that envelope
  // while every other device holds the old head's (the sim oracle compares
  // whole envelopes).
  bool changed = !head || m.kind == MutationKind::kResolve || plan.fields != head->record.fields ||
                 plan.status != head->record.status;
  if (changed) {
    core::ValidationContext vctx{std::max(now, m.updated_at)};
    core::ValidationResult vr = core::Validate(schema, plan.fields, plan.status, vctx);
    if (!vr.ok() && head && m.kind == MutationKind::kPut &&
        KeepBrokenMergesAsConflicts(env, who, m, *head, vr.problems, now, &plan)) {
      vr = core::Validate(schema, plan.fields, plan.status, vctx);
    }
    if (!vr.ok()) return Rejected(m, "invalid", ToProblems(vr.problems));
    PulledRecord rec;
    rec.id = m.record_id;
    rec.type = m.type;
    rec.subject_id = m.subject_id;
    rec.rev = head ? head->record.rev + 1 : 1;
    rec.status = plan.status;
    rec.flags = vr.flags;
    if (head && head->record.status == "final") {
      rec.amends = head->record.rev;
    }
    rec.author_id = who.practitioner_id;
    rec.device_id = who.device_id;
    rec.schema_version = m.schema_version;
    rec.hlc = head ? std::max(head->record.hlc, m.hlc) : m.hlc;
    rec.created_at = head ? head->record.created_at : m.created_at;
    rec.updated_at = m.updated_at;
    rec.server_received_at = now;
    rec.base_rev = m.base_rev;
    rec.fields = std::move(plan.fields);
    if (m.type == "pep_update") {
      if (auto key = core::PepTermKey(rec.fields)) {
        DS_ASSIGN_OR_RETURN(std::vector<StoredRecord> peps,
                            txn.SubjectHeads(m.subject_id, "pep_update", UINT64_MAX, 0, 100000));
        for (const StoredRecord& o : peps) {
          if (o.record.id == rec.id || o.record.deleted) continue;
          bool earlier = o.record.created_at < rec.created_at ||
                         (o.record.created_at == rec.created_at && o.record.id < rec.id);
          if (earlier && core::PepTermKey(o.record.fields) == key) {
            rec.flags.push_back(core::kFlagDuplicateTerm);
            break;
          }
        }
      }
    }
    std::sort(rec.flags.begin(), rec.flags.end());
    rec.flags.erase(std::unique(rec.flags.begin(), rec.flags.end()), rec.flags.end());
    if (rec.flags.size() > kMaxFlags) rec.flags.resize(kMaxFlags);
    // An applied put whose revision is the device's record: the answer says
    // so (with the revision's time), and the device records it itself.
    if (plan.exact && m.kind == MutationKind::kPut && plan.conflict_ids.empty() &&
        (!head || m.base_rev == head->record.rev) && IsDevicesRecord(rec, m)) {
      r.server_received_at = now;
    }
    StoredRecord sr;
    sr.record = std::move(rec);
    sr.mutation_id = m.mutation_id;
    DS_ASSIGN_OR_RETURN(sr.seq, txn.NextSeq());
    r.rev = sr.record.rev;
    DS_RETURN_IF_ERROR(txn.PutRevision(sr));
  } else {
    r.rev = head->record.rev;
  }
  for (StoredConflict& c : plan.conflict_writes) {
    DS_ASSIGN_OR_RETURN(c.seq, txn.NextSeq());
    DS_RETURN_IF_ERROR(txn.PutConflict(c));
  }
  r.conflicts = std::move(plan.conflict_ids);
  if (!r.conflicts.empty()) {
    r.outcome = Outcome::kConflict;
  } else if (head && m.base_rev < head->record.rev) {
    r.outcome = Outcome::kMerged;
  } else {
    r.outcome = Outcome::kApplied;
  }
  return r;
}

Result<MutationResult> ApplyPut(ServerTxn& txn, Env env, const SessionContext& who,
                                const core::RecordSchema& schema, const Mutation& m,
                                const std::optional<StoredRecord>& head, int64_t now) {
  Plan plan;
  plan.fields = head ? head->record.fields : json::object();
  plan.status = m.status;
  if (head && head->record.status == "final") plan.status = "final";
  if (!head && std::all_of(m.changes.begin(), m.changes.end(),
                           [](const auto& c) { return c.second.from.is_null(); })) {
    // A new record written from nothing: every field's server side equals
    // its base (absent), and a three-way merge with server = base is the
    // device's value (core/merge.h), so the merge is skipped.
    for (const auto& [field, ch] : m.changes) {
      if (!ch.to.is_null()) plan.fields[field] = ch.to;
    }
    plan.exact = true;
    return Commit(txn, env, who, schema, m, head, std::move(plan), now);
  }
  std::vector<StoredConflict> open;
  if (head) {
    DS_ASSIGN_OR_RETURN(open, txn.RecordConflicts(m.record_id, /*open_only=*/true));
  }
  plan.exact = open.empty();
  json base = json::object(), server = json::object(), device = json::object();
  for (const auto& [field, ch] : m.changes) {
    json from = ch.from, to = ch.to;
    json server_value = plan.fields.contains(field) ? plan.fields[field] : json(nullptr);
    if (from != server_value) plan.exact = false;
    bool whole_field_in_conflict = false;
    // A later edit of a value that is in an open conflict updates that
    // conflict's device side instead of opening another one.
    for (StoredConflict& c : open) {
      if (PathHead(c.info.path) != field) continue;
      std::string_view rest = PathRest(c.info.path);
      if (GetPath(from, rest) != c.info.device) continue;
      json new_device = GetPath(to, rest);
      if (new_device != c.info.device) {
        c.info.device = new_device;
        c.info.device_author = who.practitioner_id;
        c.info.device_time = m.updated_at;
        plan.conflict_writes.push_back(c);
        plan.conflict_ids.push_back(c.info.conflict_id);
      }
      if (rest.empty()) {
        whole_field_in_conflict = true;
      } else {
        json hv = GetPath(server_value, rest);
        SetPath(&from, rest, hv);
        SetPath(&to, rest, hv);
      }
    }
    if (whole_field_in_conflict) continue;
    base[field] = std::move(from);
    server[field] = std::move(server_value);
    device[field] = std::move(to);
  }
  core::FieldsMergeResult merged = core::MergeFields(
      base, server, device, [&schema](std::string_view p) { return schema.MergeRuleForPath(p); });
  for (const auto& [field, v] : device.items()) {
    (void)v;
    json mv;  // null unless merged
    if (merged.merged.is_object()) {
      auto it = merged.merged.find(field);
      if (it != merged.merged.end()) mv = std::move(*it);
    }
    if (mv.is_null()) {
      plan.fields.erase(field);
    } else {
      plan.fields[field] = std::move(mv);
    }
  }
  for (const core::FieldConflict& fc : merged.conflicts) {
    StoredConflict c;
    c.info.conflict_id = RandomHexId(*env.random);
    c.info.record_id = m.record_id;
    c.info.subject_id = m.subject_id;
    c.info.type = m.type;
    c.info.path = fc.path;
    c.info.base = fc.base;
    c.info.server = fc.server;
    c.info.device = fc.device;
    c.info.server_author = head ? head->record.author_id : who.practitioner_id;
    c.info.device_author = who.practitioner_id;
    c.info.server_time = head ? head->record.server_received_at : now;
    c.info.device_time = m.updated_at;
    c.info.base_rev = m.base_rev;
    c.opened_at = now;
    plan.conflict_ids.push_back(c.info.conflict_id);
    plan.conflict_writes.push_back(std::move(c));
  }
  return Commit(txn, env, who, schema, m, head, std::move(plan), now);
}

Result<MutationResult> ApplyResolve(ServerTxn& txn, Env env, const SessionContext& who,
                                    const core::RecordSchema& schema, const Mutation& m,
                                    const std::optional<StoredRecord>& head, int64_t now) {
  DS_ASSIGN_OR_RETURN(std::optional<StoredConflict> c, txn.GetConflict(m.conflict_id));
  if (!c || !head || c->info.record_id != m.record_id || c->info.state != ConflictState::kOpen ||
      c->info.path != m.path) {
    return Rejected(m, "conflict_closed");
  }
  Plan plan;
  plan.fields = head->record.fields;
  plan.status = head->record.status;
  SetPath(&plan.fields, c->info.path, m.value);
  c->info.state = ConflictState::kResolved;
  c->info.resolution = m.value;
  c->resolved_at = now;
  c->resolved_by = who.practitioner_id;
  plan.conflict_writes.push_back(*c);
  Result<MutationResult> r = Commit(txn, env, who, schema, m, head, std::move(plan), now);
  if (r.ok() && r->outcome != Outcome::kRejected) {
    r->outcome = Outcome::kApplied;  // the resolution closed the conflict
    r->conflicts.clear();
  }
  return r;
}

}  // namespace

Result<MutationResult> ApplyMutation(ServerTxn& txn, Env env, const SessionContext& who,
                                     const Mutation& m, int64_t now, CaseloadMemo* memo) {
  const core::RecordSchema* schema = core::SchemaRegistry::Default().Find(m.type);
  if (schema == nullptr) {
    return Rejected(m, "invalid", {Problem{"type", "type", "Unknown record type."}});
  }
  if (!RoleMayWrite(who.role, m.type)) return Rejected(m, "not_permitted");
  DS_ASSIGN_OR_RETURN(std::optional<StoredRecord> head, txn.GetHead(m.record_id));
  if (head && (head->record.type != m.type || head->record.subject_id != m.subject_id)) {
    return Rejected(m, "invalid",
                    {Problem{"record_id", "rule", "This record belongs to another type or subject."}});
  }
  auto access = memo->find(m.subject_id);
  if (access == memo->end()) {
    SubjectAccess a;
    DS_ASSIGN_OR_RETURN(std::optional<CaseloadEntry> entry,
                        txn.GetCaseloadEntry(who.practitioner_id, m.subject_id));
    a.on_caseload = entry.has_value();
    if (!a.on_caseload) {
      DS_ASSIGN_OR_RETURN(a.last_unassign, txn.LastUnassign(who.practitioner_id, m.subject_id));
    }
    access = memo->emplace(m.subject_id, std::move(a)).first;
  }
  if (!access->second.on_caseload) {
    // Written while the case was still assigned: accepted (case transfer).
    const std::optional<CaseloadEvent>& un = access->second.last_unassign;
    auto stamp = core::HlcStamp::Decode(m.hlc);
    if (!un || !stamp.ok() || stamp->physical_ms >= un->at) return Rejected(m, "not_on_caseload");
  }
  if ((!head && m.base_rev != 0) || (head && m.base_rev > head->record.rev)) {
    return Rejected(m, "bad_base");
  }
  if (m.kind == MutationKind::kResolve) return ApplyResolve(txn, env, who, *schema, m, head, now);
  return ApplyPut(txn, env, who, *schema, m, head, now);
}

}  // namespace internal

}  // namespace doorstep::sync
