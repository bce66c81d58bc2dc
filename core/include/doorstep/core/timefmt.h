// Calendar dates and ISO 8601 datetimes, as records carry them.
//
// A record's `date` is `YYYY-MM-DD` (a real proleptic Gregorian calendar day);
// a `datetime` is ISO 8601 with an explicit UTC offset, e.g.
// `2025-11-03T14:05:00+00:00`, `2025-11-03T14:05Z`,
// `2025-11-03T15:05:00.250+01:00`. Times are handled as milliseconds since the
// Unix epoch (UTC); dates as days since 1970-01-01. No time zone database and
// no system clock are used: everything is pure arithmetic.
// Thread safety: pure functions; safe from any thread.
#ifndef DOORSTEP_CORE_TIMEFMT_H_
#define DOORSTEP_CORE_TIMEFMT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "doorstep/core/status.h"

namespace doorstep::core {

struct CivilDate {
  int year = 1970;  // 1..9999 for anything parsed
  int month = 1;    // 1..12
  int day = 1;      // 1..31
};

// Days since 1970-01-01 of a civil date (no range check; any int year).
int64_t DaysFromCivil(int year, int month, int day);
// The civil date of a day count since 1970-01-01.
CivilDate CivilFromDays(int64_t days);
// Days in `month` (1..12) of `year`, leap years included; 0 for a bad month.
int DaysInMonth(int year, int month);

// Parses `YYYY-MM-DD` (exactly ten characters, a real calendar day, year
// 0001..9999). Returns days since 1970-01-01, or kInvalidArgument.
Result<int64_t> ParseDateDays(std::string_view s);

// Parses an ISO 8601 datetime that carries an offset:
//   YYYY-MM-DD 'T' hh:mm[:ss[.fraction]] ('Z' | ±hh:mm | ±hhmm)
// ('t'/'z' accepted too; fraction of 1..9 digits, truncated to ms; hours
// 00..23, seconds 00..59, offset up to ±23:59). Returns UTC milliseconds since
// the epoch, or kInvalidArgument (e.g. for a missing offset: a time without
// an offset does not say when it happened).
Result<int64_t> ParseDateTimeMs(std::string_view s);

// Formats UTC ms as `YYYY-MM-DDThh:mm:ssZ`, or with `.sss` when the value has
// a millisecond part. Round-trips through ParseDateTimeMs.
std::string FormatDateTimeMs(int64_t ms);
// Formats days since 1970-01-01 as `YYYY-MM-DD`.
std::string FormatDateDays(int64_t days);
// The UTC calendar day (days since 1970-01-01) containing `ms`.
int64_t DaysFromMs(int64_t ms);

// Adds `months` calendar months to a day count; a day past the end of the
// target month is clamped to its last day (31 Aug + 6 months = 28/29 Feb).
int64_t AddCalendarMonths(int64_t days, int months);

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_TIMEFMT_H_
