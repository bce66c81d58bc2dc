// Dates and ISO 8601 datetimes (timefmt.h), as the schema rules use them.
#include <gtest/gtest.h>

#include "doorstep/core/timefmt.h"

namespace doorstep::core {
namespace {

int64_t Ms(std::string_view s) {
  auto r = ParseDateTimeMs(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : -1;
}

TEST(SchemaTimefmtTest, ParsesDates) {
  EXPECT_EQ(*ParseDateDays("1970-01-01"), 0);
  EXPECT_EQ(*ParseDateDays("1970-01-02"), 1);
  EXPECT_EQ(*ParseDateDays("1969-12-31"), -1);
  EXPECT_EQ(*ParseDateDays("2000-03-01"), 11017);
  EXPECT_TRUE(ParseDateDays("2024-02-29").ok());
  EXPECT_TRUE(ParseDateDays("2000-02-29").ok());
  EXPECT_TRUE(ParseDateDays("0001-01-01").ok());
  EXPECT_TRUE(ParseDateDays("9999-12-31").ok());
}

TEST(SchemaTimefmtTest, RejectsBadDates) {
  for (const char* s :
       {"2025-02-29", "1900-02-29", "2025-04-31", "2025-13-01", "2025-00-10",
        "2025-01-00", "0000-01-01", "2025-1-01", "2025/01/01", "20250101",
        "2025-01-01T00:00Z", " 2025-01-01", "", "abcd-ef-gh", "2025-01-0x"}) {
    auto r = ParseDateDays(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << s;
    }
  }
}

TEST(SchemaTimefmtTest, ParsesDateTimesWithOffsets) {
  const int64_t utc = Ms("2025-11-03T14:05:00Z");
  EXPECT_EQ(utc, 1'762'178'700'000);
  EXPECT_EQ(Ms("2025-11-03T14:05:00+00:00"), utc);
  EXPECT_EQ(Ms("2025-11-03T14:05Z"), utc);
  EXPECT_EQ(Ms("2025-11-03t14:05:00z"), utc);
  EXPECT_EQ(Ms("2025-11-03T15:05:00+01:00"), utc);
  EXPECT_EQ(Ms("2025-11-03T15:05:00+0100"), utc);
  EXPECT_EQ(Ms("2025-11-03T09:35:00-04:30"), utc);
  EXPECT_EQ(Ms("2025-11-03T14:05:00.250Z"), utc + 250);
  EXPECT_EQ(Ms("2025-11-03T14:05:00.1Z"), utc + 100);
  EXPECT_EQ(Ms("2025-11-03T14:05:00.123456789Z"), utc + 123);
  EXPECT_EQ(Ms("2025-11-04T00:30:00+10:25"), utc);  // crosses midnight
  EXPECT_EQ(Ms("1969-12-31T23:59:59Z"), -1000);
}

TEST(SchemaTimefmtTest, RejectsBadDateTimes) {
  for (const char* s :
       {"2025-11-03T14:05:00", "2025-11-03 14:05:00Z", "2025-11-03T24:00:00Z",
        "2025-11-03T14:60:00Z", "2025-11-03T14:05:60Z",
        "2025-11-03T14:05:00+24:00", "2025-11-03T14:05:00+01:60",
        "2025-11-03T14:05:00+1", "2025-11-03T14:05:00.Z",
        "2025-11-03T14:05:00.1234567890Z", "2025-11-03T14:05:00Zjunk",
        "2025-02-30T10:00:00Z", "2025-11-03", "2025-11-03T14Z",
        "2025-11-03T14:5Z", "", "not a date at all",
        "2025-11-03T14:05:00+01:00:00"}) {
    auto r = ParseDateTimeMs(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << s;
    }
  }
  EXPECT_FALSE(ParseDateTimeMs(std::string(10'000, '9')).ok());
}

TEST(SchemaTimefmtTest, FormatsAndRoundTrips) {
  EXPECT_EQ(FormatDateTimeMs(1'762'178'700'000), "2025-11-03T14:05:00Z");
  EXPECT_EQ(FormatDateTimeMs(1'762'178'700'250), "2025-11-03T14:05:00.250Z");
  EXPECT_EQ(FormatDateTimeMs(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatDateTimeMs(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatDateDays(0), "1970-01-01");
  EXPECT_EQ(FormatDateDays(-1), "1969-12-31");
  for (int64_t ms = -5'000'000'000'000; ms < 250'000'000'000'000;
       ms += 987'654'321'123) {
    EXPECT_EQ(Ms(FormatDateTimeMs(ms)), ms);
  }
  for (int64_t d = -800'000; d < 2'900'000; d += 997) {
    const CivilDate c = CivilFromDays(d);
    EXPECT_EQ(DaysFromCivil(c.year, c.month, c.day), d);
    if (c.year >= 1 && c.year <= 9999) {
      EXPECT_EQ(*ParseDateDays(FormatDateDays(d)), d);
    }
  }
  EXPECT_EQ(DaysFromMs(-1), -1);
  EXPECT_EQ(DaysFromMs(86'400'000), 1);
}

TEST(SchemaTimefmtTest, AddsCalendarMonthsClampingTheDay) {
  auto d = [](const char* s) { return *ParseDateDays(s); };
  EXPECT_EQ(AddCalendarMonths(d("2025-01-15"), 6), d("2025-07-15"));
  EXPECT_EQ(AddCalendarMonths(d("2025-08-31"), 6), d("2026-02-28"));
  EXPECT_EQ(AddCalendarMonths(d("2023-08-31"), 6), d("2024-02-29"));
  EXPECT_EQ(AddCalendarMonths(d("2025-10-01"), 6), d("2026-04-01"));
  EXPECT_EQ(AddCalendarMonths(d("2025-03-31"), -1), d("2025-02-28"));
  EXPECT_EQ(AddCalendarMonths(d("2025-12-31"), 0), d("2025-12-31"));
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2025, 13), 0);
}

}  // namespace
}  // namespace doorstep::core
