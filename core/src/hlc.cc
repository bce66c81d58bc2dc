// Hybrid logical clock: see hlc.h.
#include "doorstep/core/hlc.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <limits>
#include <utility>

namespace doorstep::core {
namespace {

int64_t ClampPhysical(int64_t ms) {
  return std::min<int64_t>(std::max<int64_t>(ms, 0), kHlcMaxPhysicalMs);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
uint32_t HexValue(char c) {
  return IsDigit(c) ? static_cast<uint32_t>(c - '0')
                    : static_cast<uint32_t>(c - 'a' + 10);
}

}  // namespace

bool IsValidHlcDeviceId(std::string_view id) {
  if (id.empty() || id.size() > kHlcMaxDeviceIdChars) return false;
  return std::all_of(id.begin(), id.end(), IsLowerHex);
}

int CompareHlc(const HlcStamp& a, const HlcStamp& b) {
  if (a.physical_ms != b.physical_ms) return a.physical_ms < b.physical_ms ? -1 : 1;
  if (a.counter != b.counter) return a.counter < b.counter ? -1 : 1;
  int c = a.device_id.compare(b.device_id);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string HlcStamp::Encode() const {
  // "%013lld-%08x-" by hand: every record write makes one, and snprintf's
  // format parsing was most of its cost.
  static const char kHex[] = "0123456789abcdef";
  std::string out(kHlcEncodedPrefixChars + device_id.size(), '-');
  uint64_t ms = static_cast<uint64_t>(ClampPhysical(physical_ms));  // 0 ... 10^13 - 1
  for (int i = 12; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>('0' + ms % 10);
    ms /= 10;
  }
  const uint32_t c = counter;
  for (int i = 0; i < 8; ++i) out[14 + static_cast<size_t>(i)] = kHex[(c >> (28 - 4 * i)) & 15];
  out.replace(kHlcEncodedPrefixChars, device_id.size(), device_id);
  return out;
}

Result<HlcStamp> HlcStamp::Decode(std::string_view text) {
  if (text.size() <= kHlcEncodedPrefixChars || text.size() > kHlcMaxEncodedChars) {
    return InvalidArgumentError("hlc: bad length");
  }
  HlcStamp stamp;
  for (size_t i = 0; i < 13; ++i) {
    if (!IsDigit(text[i])) return InvalidArgumentError("hlc: bad time digits");
    stamp.physical_ms = stamp.physical_ms * 10 + (text[i] - '0');
  }
  if (text[13] != '-' || text[22] != '-') {
    return InvalidArgumentError("hlc: bad separator");
  }
  for (size_t i = 14; i < 22; ++i) {
    if (!IsLowerHex(text[i])) return InvalidArgumentError("hlc: bad counter digits");
    stamp.counter = (stamp.counter << 4) | HexValue(text[i]);
  }
  std::string_view id = text.substr(kHlcEncodedPrefixChars);
  if (!IsValidHlcDeviceId(id)) return InvalidArgumentError("hlc: bad device id");
  stamp.device_id = std::string(id);
  return stamp;
}

HybridClock::HybridClock(Clock* clock, std::string device_id,
                         HlcStamp last_issued, int64_t max_drift_ms)
    : clock_(clock),
      device_id_(std::move(device_id)),
      max_drift_ms_(std::max<int64_t>(max_drift_ms, 0)),
      physical_ms_(ClampPhysical(last_issued.physical_ms)),
      counter_(last_issued.counter) {
  assert(IsValidHlcDeviceId(device_id_));
}

void HybridClock::TickLocked() {
  if (counter_ == std::numeric_limits<uint32_t>::max()) {
    // Four billion events in one millisecond, or a wall clock stuck behind for
    // that long: borrow the next millisecond rather than wrap.
    ++physical_ms_;
    counter_ = 0;
  } else {
    ++counter_;
  }
}

HlcStamp HybridClock::Now() {
  const int64_t wall = ClampPhysical(clock_->NowMillis());
  std::lock_guard<std::mutex> lock(mu_);
  if (wall > physical_ms_) {
    physical_ms_ = wall;
    counter_ = 0;
  } else {
    TickLocked();
  }
  return HlcStamp{physical_ms_, counter_, device_id_};
}

Status HybridClock::Observe(const HlcStamp& remote) {
  if (remote.physical_ms < 0 || remote.physical_ms > kHlcMaxPhysicalMs) {
    return InvalidArgumentError("hlc: remote time out of range");
  }
  const int64_t wall = ClampPhysical(clock_->NowMillis());
  if (remote.physical_ms - wall > max_drift_ms_) {
    return InvalidArgumentError("hlc: remote stamp too far ahead of local clock");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (remote.physical_ms > physical_ms_ ||
      (remote.physical_ms == physical_ms_ && remote.counter > counter_)) {
    physical_ms_ = remote.physical_ms;
    counter_ = remote.counter;
  }
  return Status::Ok();
}

HlcStamp HybridClock::last_issued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return HlcStamp{physical_ms_, counter_, device_id_};
}

}  // namespace doorstep::core
