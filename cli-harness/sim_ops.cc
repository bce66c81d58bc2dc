// `doorstep sim`: the random operations — records added, fields and
// narrative lines edited, records finalised and amended, conflicts resolved,
// cases transferred (unassign + assign) and one device revoked — with a sync
// of a random device after some of them. See sim.h. Content is synthetic.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string_view>

#include "doorstep/core/merge.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store_sync.h"
#include "sim.h"

namespace doorstep::cli {
namespace {

using json = nlohmann::json;

constexpr const char* kTypes[] = {"visit_note", "return_home_interview", "pep_update", "pathway_plan"};

// Narrative (line-merged) fields per type.
std::vector<std::string> TextFields(const std::string& type) {
  if (type == "visit_note") return {"purpose", "observations", "wishes_and_feelings", "analysis"};
  if (type == "return_home_interview") return {"where_stayed", "with_whom", "push_notes", "pull_notes", "child_views"};
  if (type == "pep_update") return {"child_voice", "carer_contribution"};
  return {"young_person_agreement"};
}

// A new value for one non-narrative field of `type` (scalars and sets).
std::pair<std::string, json> FieldEdit(const std::string& type, const json& fields, uint64_t r, uint64_t v) {
  char buf[64];
  if (type == "visit_note") {
    switch (r % 4) {
      case 0: std::snprintf(buf, sizeof buf, "Family home, room %llu", static_cast<unsigned long long>(v % 9));
        return {"location", buf};
      case 1: return {"bedroom_seen", v % 2 == 0};
      case 2: std::snprintf(buf, sizeof buf, "Conversation, session %llu", static_cast<unsigned long long>(v % 50));
        return {"communication_method", buf};
      default: {
        json actions = fields.value("actions", json::array());
        if (!actions.is_array()) actions = json::array();
        std::snprintf(buf, sizeof buf, "Follow-up call %llu", static_cast<unsigned long long>(v % 1000));
        actions.push_back({{"action", buf}, {"owner", "Worker 1"}, {"due", "2026-01-15"}});
        return {"actions", actions};
      }
    }
  }
  if (type == "return_home_interview") {
    switch (r % 3) {
      case 0: std::snprintf(buf, sizeof buf, "Youth centre room %llu", static_cast<unsigned long long>(v % 9));
        return {"venue", buf};
      case 1: return {"safety_info_given", v % 2 == 0};
      default: {
        json shared = fields.value("shared_with", json::array());
        if (!shared.is_array()) shared = json::array();
        std::snprintf(buf, sizeof buf, "Agency %llu", static_cast<unsigned long long>(v % 100));
        shared.push_back(buf);
        return {"shared_with", shared};
      }
    }
  }
  if (type == "pep_update") {
    if (r % 2 == 0) return {"attendance_pct", 80.0 + static_cast<double>(v % 40) / 2};
    return {"year_group", static_cast<int>(7 + v % 5)};
  }
  std::snprintf(buf, sizeof buf, "PA-%04llu", static_cast<unsigned long long>(v % 10000));
  return {"personal_adviser_id", buf};
}

// Replaces, inserts, deletes or appends one line of `text`.
std::string EditLines(const std::string& text, uint64_t op, uint64_t pos, const std::string& line) {
  std::vector<std::string> lines;
  for (std::string_view l : core::SplitLines(text)) lines.emplace_back(l);
  size_t at = lines.empty() ? 0 : pos % lines.size();
  switch (op % 4) {
    case 0:
      if (!lines.empty()) { lines[at] = line; break; }
      [[fallthrough]];
    case 1: lines.insert(lines.begin() + static_cast<long>(at), line); break;
    case 2:
      if (lines.size() > 1) { lines.erase(lines.begin() + static_cast<long>(at)); break; }
      [[fallthrough]];
    default: lines.push_back(line); break;
  }
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

}  // namespace

Status Sim::Step(int64_t index) {
  AdvanceClock(1000 + static_cast<int64_t>(Next(120000)));
  if (index == revoke_at_) DS_RETURN_IF_ERROR(Revoke());
  Device* d = RandomDevice();
  if (d == nullptr) return Status::Ok();
  const uint64_t r = Next(100);
  if (r < 28) {
    DS_RETURN_IF_ERROR(AddRecord(*d));
  } else if (r < 48) {
    DS_RETURN_IF_ERROR(EditRecord(*d, 0));
  } else if (r < 73) {
    DS_RETURN_IF_ERROR(EditRecord(*d, 1));
  } else if (r < 80) {
    DS_RETURN_IF_ERROR(EditRecord(*d, 2));
  } else if (r < 87) {
    DS_RETURN_IF_ERROR(EditRecord(*d, 3));
  } else if (r < 97) {
    DS_RETURN_IF_ERROR(Resolve(*d));
  } else {
    DS_RETURN_IF_ERROR(Transfer());
  }
  if (Chance(0.3)) {
    if (Device* s = RandomDevice()) DS_RETURN_IF_ERROR(SyncDevice(*s, /*faults=*/true));
  }
  return Status::Ok();
}

Result<bool> Sim::Write(Device& d, const std::string& id, const json& changes, std::optional<std::string> status) {
  Result<core::WriteOutcome> w = d.store->Edit(id, changes, std::move(status));
  if (!w.ok()) {
    if (w.status().code() != StatusCode::kInvalidArgument) return w.status();
    ++refused_local_;
    return false;
  }
  if (!w->saved()) {
    ++refused_local_;
    return false;
  }
  ++ops_done_;
  return true;
}

Status Sim::AddRecord(Device& d) {
  const std::set<std::string>& load = caseload_[d.practitioner];
  if (load.empty()) return EditRecord(d, 1);
  std::string subject = *std::next(load.begin(), static_cast<long>(Next(load.size())));
  std::vector<std::string> types;
  for (const char* t : kTypes) {
    if (sync::RoleMayWrite(d.role, t)) types.push_back(t);
  }
  std::string type = types[Next(types.size())];
  json fields = core::SampleFields(type, clock_.NowMillis());
  std::vector<std::string> text = TextFields(type);
  const std::string& tf = text[Next(text.size())];
  fields[tf] = fields.value(tf, std::string()) + "Written by " + d.practitioner + " at step " +
               std::to_string(ops_done_) + ".\n";
  std::string status = Chance(0.2) ? "final" : "draft";
  DS_ASSIGN_OR_RETURN(core::WriteOutcome w, d.store->Add(type, subject, fields, status));
  if (!w.saved()) {
    ++refused_local_;
    return Status::Ok();
  }
  ++ops_done_;
  return Status::Ok();
}

// what: 0 a non-narrative field, 1 narrative lines, 2 finalise a draft,
// 3 amend a final record (a narrative edit of a final record).
Status Sim::EditRecord(Device& d, int what) {
  const std::set<std::string>& load = caseload_[d.practitioner];
  if (load.empty()) return Status::Ok();
  std::string subject = *std::next(load.begin(), static_cast<long>(Next(load.size())));
  DS_ASSIGN_OR_RETURN(std::vector<core::Record> records, d.store->List(core::ListFilter{subject, std::nullopt}));
  std::vector<const core::Record*> candidates;
  for (const core::Record& r : records) {
    if (r.deleted || !sync::RoleMayWrite(d.role, r.type)) continue;
    if (what == 2 && r.status != "draft") continue;
    if (what == 3 && r.status != "final") continue;
    candidates.push_back(&r);
  }
  // Draws happen whether or not there is a candidate, to keep the sequence.
  const uint64_t pick = Next(1u << 30), r1 = Next(1u << 30), r2 = Next(1u << 30), r3 = Next(1u << 30);
  if (candidates.empty()) return Status::Ok();
  const core::Record& rec = *candidates[pick % candidates.size()];
  if (what == 2) return Write(d, rec.id, json::object(), std::string("final")).status();
  if (what == 0) {
    auto [field, value] = FieldEdit(rec.type, rec.fields, r1, r2);
    return Write(d, rec.id, {{field, value}}, std::nullopt).status();
  }
  std::vector<std::string> text = TextFields(rec.type);
  const std::string& tf = text[r1 % text.size()];
  std::string old = rec.fields.contains(tf) && rec.fields[tf].is_string() ? rec.fields[tf].get<std::string>() : "";
  std::string line = (what == 3 ? "Amended by " : "Edited by ") + d.practitioner + " at step " +
                     std::to_string(ops_done_) + ".\n";
  return Write(d, rec.id, {{tf, EditLines(old, r2, r3, line)}}, std::nullopt).status();
}

Status Sim::Resolve(Device& d) {
  DS_ASSIGN_OR_RETURN(std::vector<json> conflicts, core::ListConflicts(*d.store, true));
  std::vector<const json*> mine;
  for (const json& c : conflicts) {
    if (c.value("state", "") == "open" && sync::RoleMayWrite(d.role, c.value("type", ""))) mine.push_back(&c);
  }
  const uint64_t pick = Next(1u << 30), how = Next(10);
  if (mine.empty()) return EditRecord(d, 1);
  const json& c = *mine[pick % mine.size()];
  std::string take = how < 4 ? "server" : how < 8 ? "device" : "value";
  json value;
  if (take == "value") {
    const json& server = c.contains("server") ? c["server"] : json();
    if (server.is_string()) {
      value = server.get<std::string>() + "Agreed wording, " + d.practitioner + ".\n";
    } else {
      take = "device";
    }
  }
  Status s = core::ResolveConflict(*d.store, c.value("conflict_id", ""), take, value);
  if (!s.ok()) return s.Annotate("resolving a conflict");
  ++ops_done_;
  ++resolutions_;
  return Status::Ok();
}

Status Sim::Transfer() {
  const std::string subject = subjects_[Next(subjects_.size())];
  std::vector<std::string> from, to;
  for (auto& [p, load] : caseload_) {
    if (load.count(subject) != 0) {
      if (load.size() >= 2) from.push_back(p);
    } else {
      to.push_back(p);
    }
  }
  const uint64_t a = Next(1u << 30), b = Next(1u << 30);
  if (from.empty() || to.empty()) return Status::Ok();
  const std::string& giver = from[a % from.size()];
  const std::string& taker = to[b % to.size()];
  DS_RETURN_IF_ERROR(Admin().Unassign(giver, subject));
  DS_RETURN_IF_ERROR(Admin().Assign(taker, subject));
  caseload_[giver].erase(subject);
  caseload_[taker].insert(subject);
  ++transfers_;
  ++ops_done_;
  return Status::Ok();
}

// Revokes one device after it has pushed everything (so what it wrote is on
// the server); its next sync must be refused and must wipe its store.
Status Sim::Revoke() {
  Device* target = nullptr;
  std::map<std::string, int> per_practitioner;
  for (Device& d : devices_) ++per_practitioner[d.practitioner];
  for (Device& d : devices_) {
    if (!d.revoked && per_practitioner[d.practitioner] > 1) target = &d;
  }
  if (target == nullptr) target = &devices_.back();
  if (target->revoked) return Status::Ok();
  Device& d = *target;
  for (int tries = 0; tries < 5; ++tries) {
    bool ok = false;
    DS_RETURN_IF_ERROR(SyncDevice(d, /*faults=*/false, nullptr, &ok));
    DS_ASSIGN_OR_RETURN(core::StoreStatus st, d.store->GetStatus());
    if (ok && st.pending == 0) break;
  }
  DS_RETURN_IF_ERROR(Admin().Revoke(d.device_id));
  Result<sync::SyncReport> r = sync::RunSync(*d.store, DeviceEnv(d), {});
  WaitIdle();
  if (r.ok() || r.status().code() != StatusCode::kPermissionDenied) {
    problems_.push_back("revoked device " + std::to_string(d.index) + " was not refused: " +
                        (r.ok() ? std::string("sync succeeded") : r.status().ToString()));
  }
  d.store.reset();
  d.revoked = true;
  revoked_paths_.push_back(d.path);
  ++revocations_;
  ++ops_done_;
  return Status::Ok();
}

}  // namespace doorstep::cli
