// `doorstep sim`: the oracle, run after every device has synced until quiet.
//   1. each device's records (and conflicts) for each subject on its
//      practitioner's caseload equal the server's;
//   2. every mutation ever acknowledged on a device (the ledger) is on the
//      server: its stored outcome, and the revision or conflicts it made —
//      zero lost;
//   3. no device holds a subject outside its caseload (except records it
//      keeps for a change the server refused, counted as kept_rejected);
//   4. the server's audit chain verifies; a revoked device's store is gone.
// See sim.h.
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "doorstep/core/store_sync.h"
#include "sim.h"

namespace doorstep::cli {
namespace {

using json = nlohmann::json;

// The value at dotted `path` below `root` (null when absent).
json At(const json& root, const std::string& path) {
  const json* cur = &root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

}  // namespace

Status Sim::Check(SimReport* rep) {
  WaitIdle();
  auto note = [rep](std::string s) {
    if (rep->problems.size() < 50) rep->problems.push_back(std::move(s));
  };
  DS_ASSIGN_OR_RETURN(std::unique_ptr<sync::ServerTxn> txn, server_store_->Begin(sync::TxnMode::kRead));
  DS_ASSIGN_OR_RETURN(uint64_t upto, txn->MaxSeq());

  // 2. Zero lost.
  for (const auto& [mid, e] : ledger_) {
    ++rep->mutations;
    DS_ASSIGN_OR_RETURN(std::optional<sync::MutationResult> res, txn->GetMutationResult(mid));
    std::string who = "mutation " + mid.substr(0, 8) + " (device " + std::to_string(e.device) + ", " + e.kind + ")";
    if (!res) {
      ++rep->lost;
      note(who + ": never reached the server");
      continue;
    }
    switch (res->outcome) {
      case sync::Outcome::kApplied: ++rep->applied; break;
      case sync::Outcome::kMerged: ++rep->merged; break;
      case sync::Outcome::kConflict: ++rep->conflicted; break;
      case sync::Outcome::kRejected: ++rep->rejected; break;
    }
    if (res->outcome == sync::Outcome::kRejected) {
      if (res->reason != "not_on_caseload" && res->reason != "conflict_closed") {
        std::string why = res->reason;
        for (const auto& p : res->problems) why += "; " + p.path + ": " + p.code;
        note(who + ": rejected unexpectedly (" + why + ")");
        ++rep->unexpected_rejections;
      }
      continue;
    }
    DS_ASSIGN_OR_RETURN(std::optional<sync::StoredRecord> rev, txn->GetRevision(e.record_id, res->rev));
    if (!rev) {
      ++rep->lost;
      note(who + ": revision " + std::to_string(res->rev) + " is not in the record's history");
      continue;
    }
    if (res->outcome == sync::Outcome::kApplied && e.kind == "put") {
      for (const auto& [field, ch] : e.changes.items()) {
        json to = ch.contains("to") ? ch["to"] : json();
        json have = rev->record.fields.contains(field) ? rev->record.fields[field] : json();
        if (have != to) {
          ++rep->lost;
          note(who + ": applied, but field '" + field + "' of revision " + std::to_string(res->rev) +
               " does not hold the device's value");
          break;
        }
      }
    }
    for (const std::string& cid : res->conflicts) {
      DS_ASSIGN_OR_RETURN(std::optional<sync::StoredConflict> c, txn->GetConflict(cid));
      if (!c) {
        ++rep->lost;
        note(who + ": conflict " + cid.substr(0, 8) + " is missing");
      }
    }
    if (e.kind == "resolve") {
      DS_ASSIGN_OR_RETURN(std::optional<sync::StoredConflict> c,
                          txn->GetConflict(e.resolve.value("conflict_id", "")));
      if (!c || c->info.state != sync::ConflictState::kResolved) {
        ++rep->lost;
        note(who + ": applied, but its conflict is not resolved on the server");
      } else if (rev->mutation_id == mid && At(rev->record.fields, c->info.path) != e.resolve["value"]) {
        ++rep->lost;
        note(who + ": the resolution's value is not in its revision");
      }
    }
  }

  // 1 and 3, device by device.
  bool same = true, scoped = true;
  for (Device& d : devices_) {
    if (d.revoked) continue;
    const std::string dev = "device " + std::to_string(d.index);
    DS_ASSIGN_OR_RETURN(std::vector<sync::CaseloadEntry> load, txn->ListCaseload(d.practitioner));
    std::set<std::string> subjects;
    for (const auto& c : load) subjects.insert(c.subject_id);
    DS_ASSIGN_OR_RETURN(core::StoreStatus st, d.store->GetStatus());
    std::set<std::string> kept;
    for (const json& r : st.rejected_details) kept.insert(r.value("record_id", ""));
    if (st.pending != 0) {
      same = false;
      note(dev + ": " + std::to_string(st.pending) + " mutations still pending");
    }
    DS_ASSIGN_OR_RETURN(std::vector<core::Record> all, d.store->List(core::ListFilter{}));
    std::map<std::string, std::map<std::string, const core::Record*>> by_subject;
    for (const core::Record& r : all) {
      if (kept.count(r.id) != 0) {
        ++rep->kept_rejected;
        continue;
      }
      if (subjects.count(r.subject_id) == 0) {
        scoped = false;
        note(dev + ": holds record " + r.id.substr(0, 8) + " of " + r.subject_id + ", not on its caseload");
        continue;
      }
      by_subject[r.subject_id][r.id] = &r;
    }
    DS_ASSIGN_OR_RETURN(std::vector<json> dconf, core::ListConflicts(*d.store, false));
    for (const std::string& s : subjects) {
      DS_ASSIGN_OR_RETURN(std::vector<sync::StoredRecord> heads, txn->SubjectHeads(s, "", upto, 0, 1000000));
      auto& mine = by_subject[s];
      for (const sync::StoredRecord& h : heads) {
        if (kept.count(h.record.id) != 0) continue;
        ++rep->records_checked;
        auto it = mine.find(h.record.id);
        if (it == mine.end()) {
          same = false;
          note(dev + ": lacks record " + h.record.id.substr(0, 8) + " of " + s);
          continue;
        }
        const core::Record& r = *it->second;
        // The whole revision, envelope included: a device that records its
        // own pushed revision instead of pulling it (docs/sync.md, "No
        // echo") must end with the server's record exactly.
        const sync::PulledRecord& sh = h.record;
        // Each envelope field once: its name (for the note) and whether it matches.
        const std::pair<const char*, bool> envelope[] = {
            {"flags", r.flags == sh.flags},
            {"author_id", r.author_id == sh.author_id},
            {"device_id", r.device_id == sh.device_id},
            {"hlc", r.hlc == sh.hlc},
            {"created_at", r.created_at == sh.created_at},
            {"updated_at", r.updated_at == sh.updated_at},
            {"server_received_at", r.server_received_at == sh.server_received_at},
            {"base_rev", r.base_rev == sh.base_rev},
            {"schema_version", r.schema_version == sh.schema_version},
            {"deleted", r.deleted == sh.deleted},
        };
        const bool envelope_same =
            std::all_of(std::begin(envelope), std::end(envelope), [](const auto& e) { return e.second; });
        if (r.rev != h.record.rev || r.status != h.record.status || r.fields != h.record.fields ||
            r.amends != h.record.amends || !envelope_same) {
          same = false;
          std::string what;
          if (r.status != h.record.status) what += " status " + r.status + "/" + h.record.status;
          if (r.amends != h.record.amends) what += " amends";
          for (const auto& [name, equal] : envelope) {
            if (!equal) what += std::string(" ") + name;
          }
          for (const auto& [k, v] : r.fields.items()) {
            if (!h.record.fields.contains(k) || h.record.fields[k] != v) what += " " + k;
          }
          for (const auto& [k, v] : h.record.fields.items()) {
            if (!r.fields.contains(k)) what += " " + k + "(absent)";
          }
          note(dev + ": record " + r.id.substr(0, 8) + " (" + r.type + ") differs from the server's (device rev " +
               std::to_string(r.rev) + ", server rev " + std::to_string(h.record.rev) + "):" + what);
        }
        mine.erase(it);
      }
      for (const auto& [id, r] : mine) {
        same = false;
        note(dev + ": holds record " + id.substr(0, 8) + " of " + s + " that the server does not have");
      }
      DS_ASSIGN_OR_RETURN(std::vector<sync::StoredConflict> sconf, txn->SubjectConflicts(s, upto, 1000000));
      std::map<std::string, std::string> server_states, device_states;
      for (const auto& c : sconf) {
        server_states[c.info.conflict_id] = c.info.state == sync::ConflictState::kOpen ? "open" : "resolved";
      }
      for (const json& c : dconf) {
        if (c.value("subject_id", "") == s) device_states[c.value("conflict_id", "")] = c.value("state", "");
      }
      if (server_states != device_states) {
        same = false;
        note(dev + ": conflicts of " + s + " differ from the server's (" + std::to_string(device_states.size()) +
             " on the device, " + std::to_string(server_states.size()) + " on the server)");
      }
    }
  }
  txn.reset();

  // 4. The audit chain, and revoked stores wiped.
  bool audit_ok = true;
  Result<uint64_t> audit = Admin().VerifyAudit();
  if (!audit.ok()) {
    audit_ok = false;
    note("server audit chain: " + audit.status().ToString());
  }
  for (const std::string& path : revoked_paths_) {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) == 0) {
      audit_ok = false;
      note("revoked device store " + path + " still exists");
    }
  }
  DS_ASSIGN_OR_RETURN(std::vector<sync::StoredConflict> open, Admin().Conflicts(true));
  rep->conflicts_open = static_cast<int64_t>(open.size());
  rep->check_same = same;
  rep->check_scoped = scoped;
  rep->check_audit = audit_ok;
  rep->converged = rep->quiet && same && scoped && audit_ok;
  return Status::Ok();
}

}  // namespace doorstep::cli
