#include "capi_json.h"

#include "doorstep/core/schema.h"

namespace doorstep::capi {

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
