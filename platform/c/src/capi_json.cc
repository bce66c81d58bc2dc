#include "capi_json.h"

#include "doorstep/core/schema.h"

namespace doorstep::capi {

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json HistoryEntryToJson(const core::HistoryEntry& e) {
  return {{"local_version", e.local_version},
          {"rev", e.rev},
          {"hlc", e.hlc},
          {"updated_at", e.updated_at},
          {"author_id", e.author_id},
          {"device_id", e.device_id},
          {"status", e.status},
          {"origin", e.origin},
          {"fields", e.fields}};
}

nlohmann::json StoreStatusToJson(const std::string& path,
                                 const core::StoreStatus& s) {
  nlohmann::json enrollment = nullptr;
  if (s.enrollment) {
    enrollment = {{"server", s.enrollment->server},
                  {"server_key", s.enrollment->server_key_hex},
                  {"practitioner_id", s.enrollment->practitioner_id},
                  {"role", s.enrollment->role}};
  }
  return {{"store", path},
          {"device_id", s.device_id},
          {"records", s.records},
          {"pending", s.pending},
          {"rejected", s.rejected},
          {"rejected_details", s.rejected_details},
          {"open_conflicts", s.open_conflicts},
          {"last_sync_at", s.last_sync_at},
          {"checkpoint", s.checkpoint},
          {"enrolled", s.enrollment.has_value()},
          {"enrollment", enrollment}};
}

nlohmann::json SyncReportToJson(const sync::SyncReport& r) {
  return {{"pushed", r.pushed}, {"rejected", r.rejected},
          {"pulled", r.pulled}, {"conflicts", r.conflicts},
          {"purged", r.purged}, {"round_trips", r.round_trips}};
}

nlohmann::json ValidationToJson(const std::vector<core::Problem>& problems,
                                const std::vector<std::string>& flags) {
  return {{"ok", problems.empty()},
          {"problems", core::ProblemsToJson(problems)},
          {"flags", flags}};
}

std::string ProblemsForError(const std::vector<core::Problem>& problems,
                             size_t max_bytes) {
  nlohmann::json all = core::ProblemsToJson(problems);
  std::string text = Dump(all);
  if (text.size() <= max_bytes) return text;
  // Drop problems from the end until the rest plus a "truncated" note fits.
  nlohmann::json kept = nlohmann::json::array();
  size_t used = 2;  // "[]"
  for (size_t i = 0; i < all.size(); ++i) {
    std::string one = Dump(all[i]);
    size_t left = all.size() - i;
    // Room for this entry, a comma, and the note (under 200 bytes).
    if (used + one.size() + 1 + 200 > max_bytes) {
      kept.push_back(
          {{"path", ""},
           {"code", "truncated"},
           {"message",
            std::to_string(left) +
                " more problems not shown; ds_validate lists them all"}});
      return Dump(kept);
    }
    used += one.size() + 1;
    kept.push_back(all[i]);
  }
  return Dump(kept);
}

}  // namespace doorstep::capi
