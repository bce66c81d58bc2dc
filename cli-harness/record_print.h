// Human-readable printing of records, history entries and store status for
// the device commands. These print decrypted field values: only `show`,
// `list` (envelopes only) and `history` call them, whose job that is.
// Thread safety: single-threaded CLI code; writes to stdout.
#ifndef DOORSTEP_CLI_RECORD_PRINT_H_
#define DOORSTEP_CLI_RECORD_PRINT_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/record.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_json.h"

namespace doorstep::cli {

// Envelope lines ("id:", "type:", …) then each field, nested values indented.
void PrintRecord(const core::Record& r);
// One line per record: id, type, subject, status, rev, updated, flags.
void PrintRecordList(const std::vector<core::Record>& records);
// Each version, oldest first: a header line, then its fields.
void PrintHistory(const std::vector<core::HistoryEntry>& entries);
// Fields of a record, indented by `indent` spaces.
void PrintFields(const nlohmann::json& fields, int indent);

// Human-readable status.
void PrintStatus(const std::string& store_path, const core::StoreStatus& s);

}  // namespace doorstep::cli

#endif  // DOORSTEP_CLI_RECORD_PRINT_H_
