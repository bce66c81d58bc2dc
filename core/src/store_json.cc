#include "doorstep/core/store_json.h"

namespace doorstep::core {

nlohmann::json HistoryEntryToJson(const HistoryEntry& e) {
  return {{"local_version", e.local_version}, {"rev", e.rev},
          {"hlc", e.hlc},                     {"updated_at", e.updated_at},
          {"author_id", e.author_id},         {"device_id", e.device_id},
          {"status", e.status},               {"origin", e.origin},
          {"fields", e.fields}};
}

nlohmann::json StoreStatusToJson(const std::string& store_path, const StoreStatus& s) {
  nlohmann::json enrollment = nullptr;
  if (s.enrollment) {
    enrollment = {{"server", s.enrollment->server},
                  {"server_key", s.enrollment->server_key_hex},
                  {"practitioner_id", s.enrollment->practitioner_id},
                  {"role", s.enrollment->role}};
  }
  return {{"store", store_path},
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

}  // namespace doorstep::core
