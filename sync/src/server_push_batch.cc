// ServerCore::ApplyPush and ApplyPushInTxn: a push batch applied mutation by
// mutation (server_push.cc's ApplyMutation), each outcome stored for replays
// and audited. On the group committer's thread for every pushed mutation, so
// per-mutation work here is kept small (docs/sync.md).
#include "server_core_internal.h"

namespace doorstep::sync {

using json = nlohmann::json;

Result<Pushed> ServerCore::ApplyPushInTxn(ServerTxn& txn, const SessionContext& ctx,
                                          const Push& push, PushStats* stats) {
  int64_t now = env_.clock->NowMillis();
  DS_ASSIGN_OR_RETURN(DeviceInfo d, CheckDevice(txn, ctx));
  SessionContext who = ctx;
  who.practitioner_id = d.practitioner_id;
  DS_ASSIGN_OR_RETURN(std::optional<Practitioner> p, txn.GetPractitioner(d.practitioner_id));
  who.role = p ? p->role : d.role;
  std::string actor = internal::DeviceActor(d.device_id);
  Pushed out;
  out.r.reserve(push.m.size());
  PushStats st;
  internal::CaseloadMemo memo;
  for (const Mutation& m : push.m) {
    DS_ASSIGN_OR_RETURN(std::optional<MutationResult> prior, txn.GetMutationResult(m.mutation_id));
    if (prior) {
      out.r.push_back(std::move(*prior));
      ++st.replayed;
      continue;
    }
    DS_ASSIGN_OR_RETURN(MutationResult r, internal::ApplyMutation(txn, env_, who, m, now, &memo));
    DS_RETURN_IF_ERROR(txn.PutMutationResult(m.mutation_id, d.device_id, m.record_id, r, now));
    // Key by key: an initializer list builds a two-element array per key first.
    json details = json::object();
    details["mutation"] = m.mutation_id;
    details["record"] = m.record_id;
    details["subject"] = m.subject_id;
    details["outcome"] = OutcomeName(r.outcome);
    details["rev"] = r.rev;
    if (!r.conflicts.empty()) details["conflicts"] = r.conflicts;
    if (!r.reason.empty()) details["reason"] = r.reason;
    DS_RETURN_IF_ERROR(internal::AppendAuditEntry(txn, env_, actor,
                                       m.kind == MutationKind::kResolve ? "resolve" : "write",
                                       std::move(details)));
    switch (r.outcome) {
      case Outcome::kApplied: ++st.applied; break;
      case Outcome::kMerged: ++st.merged; break;
      case Outcome::kConflict: ++st.conflict; break;
      case Outcome::kRejected: ++st.rejected; break;
    }
    out.r.push_back(std::move(r));
  }
  if (stats != nullptr) *stats = st;
  return out;
}

Result<Pushed> ServerCore::ApplyPush(const SessionContext& ctx, const Push& push, PushStats* stats) {
  if (push.m.size() > kMaxMutationsPerPush) return InvalidArgumentError("push: too many mutations");
  DS_ASSIGN_OR_RETURN(auto txn, store_->Begin(TxnMode::kWrite));
  PushStats st;
  DS_ASSIGN_OR_RETURN(Pushed out, ApplyPushInTxn(*txn, ctx, push, &st));
  DS_RETURN_IF_ERROR(txn->Commit());
  if (stats != nullptr) *stats = st;
  return out;
}

}  // namespace doorstep::sync
