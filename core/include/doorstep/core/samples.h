// Synthetic sample records: valid `fields` objects for each record type, for
// the demo, benchmarks and tests. All names and content are invented ("Child
// A", "Worker 1"); no real person is described.
// Thread safety: pure function; safe from any thread.
#ifndef DOORSTEP_CORE_SAMPLES_H_
#define DOORSTEP_CORE_SAMPLES_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace doorstep::core {

// A `fields` object of record type `type` that passes Validate() with status
// "final" at device time `now_ms` and sets no flag (times and dates are placed
// relative to `now_ms`: a visit that ended an hour ago, an interview the day
// after the return, a review today). Text fields are multi-line; a visit_note
// is about 1 KB. Returns null JSON for an unknown type.
nlohmann::json SampleFields(std::string_view type, int64_t now_ms);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_SAMPLES_H_
