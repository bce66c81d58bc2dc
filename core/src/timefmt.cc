#include "doorstep/core/timefmt.h"

#include <cstdio>

namespace doorstep::core {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at s[pos..pos+n) into *out; false if any is not a
// digit.
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Floor division for negative day counts.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Status Bad(std::string_view what) {
  return InvalidArgumentError(std::string(what));
}

}  // namespace

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

// Civil-from-days arithmetic over 400-year eras (146097 days each), with the
// year starting in March so that the leap day falls last.
int64_t DaysFromCivil(int year, int month, int day) {
  int64_t y = static_cast<int64_t>(year) - (month <= 2 ? 1 : 0);
  const int64_t era = FloorDiv(y, 400);
  const int64_t yoe = y - era * 400;                          // [0, 399]
  const int64_t mp = (month + 9) % 12;                        // March = 0
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;           // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  CivilDate d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = static_cast<int>(yoe + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

Result<int64_t> ParseDateDays(std::string_view s) {
  int y = 0, m = 0, d = 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !Digits(s, 0, 4, &y) ||
      !Digits(s, 5, 2, &m) || !Digits(s, 8, 2, &d)) {
    return Bad("not a date in the form YYYY-MM-DD");
  }
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) {
    return Bad("not a real calendar date");
  }
  return DaysFromCivil(y, m, d);
}

Result<int64_t> ParseDateTimeMs(std::string_view s) {
  if (s.size() < 17 || s.size() > 64) return Bad("not an ISO 8601 datetime");
  auto day = ParseDateDays(s.substr(0, 10));
  if (!day.ok()) return day.status();
  if (s[10] != 'T' && s[10] != 't')
    return Bad("datetime needs a 'T' between date and time");
  int hh = 0, mm = 0, ss = 0, frac_ms = 0;
  if (!Digits(s, 11, 2, &hh) || s[13] != ':' || !Digits(s, 14, 2, &mm)) {
    return Bad("datetime needs a time hh:mm");
  }
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &ss))
      return Bad("datetime seconds must be two digits");
    pos += 3;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      size_t n = 0;
      int scale = 100;
      while (pos < s.size() && IsDigit(s[pos])) {
        if (n < 3) frac_ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        ++n;
      }
      if (n == 0 || n > 9)
        return Bad("datetime fraction must have 1 to 9 digits");
    }
  }
  if (hh > 23 || mm > 59 || ss > 59) return Bad("not a real time of day");
  if (pos >= s.size()) return Bad("datetime needs an offset (Z or +hh:mm)");
  int offset_min = 0;
  const char sign = s[pos];
  if (sign == 'Z' || sign == 'z') {
    ++pos;
  } else if (sign == '+' || sign == '-') {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, &oh))
      return Bad("datetime offset must be +hh:mm");
    pos += 3;
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (!Digits(s, pos, 2, &om)) return Bad("datetime offset must be +hh:mm");
    pos += 2;
    if (oh > 23 || om > 59) return Bad("datetime offset out of range");
    offset_min = (oh * 60 + om) * (sign == '-' ? -1 : 1);
  } else {
    return Bad("datetime needs an offset (Z or +hh:mm)");
  }
  if (pos != s.size())
    return Bad("unexpected characters after the datetime offset");
  const int64_t local_ms =
      *day * kMsPerDay + ((hh * 60 + mm) * 60 + ss) * int64_t{1000} + frac_ms;
  return local_ms - offset_min * int64_t{60'000};
}

int64_t DaysFromMs(int64_t ms) { return FloorDiv(ms, kMsPerDay); }

std::string FormatDateDays(int64_t days) {
  const CivilDate d = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

std::string FormatDateTimeMs(int64_t ms) {
  const int64_t days = DaysFromMs(ms);
  int64_t rem = ms - days * kMsPerDay;  // [0, kMsPerDay)
  const int millis = static_cast<int>(rem % 1000);
  rem /= 1000;
  const int sec = static_cast<int>(rem % 60);
  const int min = static_cast<int>((rem / 60) % 60);
  const int hour = static_cast<int>(rem / 3600);
  char buf[96];
  if (millis != 0) {
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d.%03dZ",
                  FormatDateDays(days).c_str(), hour, min, sec, millis);
  } else {
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ",
                  FormatDateDays(days).c_str(), hour, min, sec);
  }
  return buf;
}

int64_t AddCalendarMonths(int64_t days, int months) {
  const CivilDate d = CivilFromDays(days);
  const int64_t total =
      static_cast<int64_t>(d.year) * 12 + (d.month - 1) + months;
  const int year = static_cast<int>(FloorDiv(total, 12));
  const int month =
      static_cast<int>(total - static_cast<int64_t>(year) * 12) + 1;
  const int last = DaysInMonth(year, month);
  return DaysFromCivil(year, month, d.day > last ? last : d.day);
}

}  // namespace doorstep::core
