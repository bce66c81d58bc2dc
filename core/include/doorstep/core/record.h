// Record: one piece of a practitioner's work (a visit note, a return-home
// interview, a PEP update, a pathway plan) with the envelope RECORDS.md fixes.
// The core sets the envelope; callers supply type, subject and fields.
// Thread safety: a value.
#ifndef DOORSTEP_CORE_RECORD_H_
#define DOORSTEP_CORE_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"

namespace doorstep::core {

struct Record {
  std::string id;          // 32 lower-case hex chars (docs/store.md, "Record ids")
  std::string type;        // visit_note | return_home_interview | pep_update | pathway_plan
  std::string subject_id;  // opaque case id of the child or young person
  std::string author_id;   // practitioner id
  std::string device_id;   // device that wrote this revision
  int schema_version = 1;
  int64_t rev = 0;         // server revision (0: never synced)
  int64_t base_rev = 0;    // server revision this one was written against
  int64_t local_version = 0;  // device-local version counter (device only)
  std::string hlc;         // HlcStamp::Encode()
  int64_t created_at = 0;  // device time, ms since epoch
  int64_t updated_at = 0;
  int64_t server_received_at = 0;
  std::string status = "draft";  // draft | final
  std::vector<std::string> flags;
  std::optional<int64_t> amends;  // revision replaced by this amendment
  bool deleted = false;
  nlohmann::json fields = nlohmann::json::object();
};

// The JSON shape `show --json` prints: {"id","type","subject_id","status",
// "rev","flags":[…],"fields":{…}, …envelope}.
nlohmann::json RecordToJson(const Record& r);
// Parses what RecordToJson produced; never throws; kCorruption names the field.
Result<Record> RecordFromJson(const nlohmann::json& j);

// True if `s` is 32 lower-case hex characters.
bool IsRecordId(std::string_view s);

// The first bytes of the record ids one maker makes in turn (the store, in
// an unlocked session: docs/store.md, "Record ids"): a count from a random
// start, big-endian, so the ids sort in the order they were made and go into
// an id-keyed b-tree side by side. The other 80 bits of an id are the
// maker's unpredictable bytes.
class RecordIdOrder {
 public:
  static constexpr int kBytes = 6;  // 48 bits; the count wraps at 2^48
  RecordIdOrder() = default;        // counts from 0 (a placeholder until drawn)
  explicit RecordIdOrder(Random& random);  // counts from a random start
  // Writes the next count over id[0, kBytes) of a 16-byte id.
  void Stamp(unsigned char* id);

 private:
  uint64_t next_ = 0;
};
// Subject and practitioner ids: 1–64 chars of [A-Za-z0-9._-].
bool IsOpaqueId(std::string_view s);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_RECORD_H_
