// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// 2014): every change carries an HlcStamp so that order is meaningful across
// devices whose wall clocks drift or jump.
//
// An HlcStamp is (physical_ms, counter, device_id). physical_ms stays close to
// wall-clock time; counter breaks ties within one millisecond and carries the
// clock forward when the wall clock stalls or goes backwards; device_id makes
// stamps from different devices distinct. Stamps order totally by
// (physical_ms, counter, device_id), and Encode() produces a string whose
// byte-wise order is the same order, so stamps can be sorted and indexed as
// text.
//
// HybridClock issues stamps for one device. Stamps it issues strictly increase,
// whatever the wall clock does, and after Observe(remote) every stamp it issues
// is greater than `remote`.
//
// Thread safety: HlcStamp is a value. HybridClock guards its state with a
// mutex; Now() and Observe() may be called from any thread. The Clock passed in
// must outlive it (Clock implementations are thread safe, see env.h).
#ifndef DOORSTEP_CORE_HLC_H_
#define DOORSTEP_CORE_HLC_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"

namespace doorstep::core {

// Largest physical time an HlcStamp can carry: 13 decimal digits, i.e. until
// the year 2286.
inline constexpr int64_t kHlcMaxPhysicalMs = 9'999'999'999'999;
// A device id is 1..64 lowercase hex characters.
inline constexpr size_t kHlcMaxDeviceIdChars = 64;
// Encoded length: 13 digits, '-', 8 hex digits, '-', the device id.
inline constexpr size_t kHlcEncodedPrefixChars = 13 + 1 + 8 + 1;
inline constexpr size_t kHlcMaxEncodedChars =
    kHlcEncodedPrefixChars + kHlcMaxDeviceIdChars;
// Default tolerance for remote stamps ahead of the local wall clock.
inline constexpr int64_t kHlcDefaultMaxDriftMs = 24LL * 60 * 60 * 1000;

// True if `id` is 1..64 characters, each of [0-9a-f].
bool IsValidHlcDeviceId(std::string_view id);

struct HlcStamp {
  int64_t physical_ms = 0;
  uint32_t counter = 0;
  std::string device_id;

  // "1760000000000-0000002a-<device_id>": 13-digit zero-padded
  // milliseconds, '-', 8 lowercase hex digits of counter, '-', device id.
  // Byte-wise order of encodings equals the order of stamps.
  // REQUIRES: 0 <= physical_ms <= kHlcMaxPhysicalMs (values outside are
  // clamped so the output stays fixed-width; Decode then reads the clamp).
  std::string Encode() const;

  // Parses Encode()'s format strictly: exact length bounds, digits only in the
  // time, lowercase hex only in the counter, a valid device id, nothing else.
  // Returns kInvalidArgument for anything else (the input is untrusted).
  static Result<HlcStamp> Decode(std::string_view text);
};

// Total order: physical_ms, then counter, then device_id (byte-wise).
int CompareHlc(const HlcStamp& a, const HlcStamp& b);
inline bool operator==(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) == 0; }
inline bool operator!=(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) != 0; }
inline bool operator<(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) < 0; }
inline bool operator>(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) > 0; }
inline bool operator<=(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) <= 0; }
inline bool operator>=(const HlcStamp& a, const HlcStamp& b) { return CompareHlc(a, b) >= 0; }

class HybridClock {
 public:
  // `clock` must outlive this object. `device_id` names this device.
  // REQUIRES: IsValidHlcDeviceId(device_id) (otherwise the stamps it issues do
  // not Decode). `last_issued` restores the clock after a restart (persist
  // last_issued() before using a stamp durably); only its physical_ms and
  // counter matter. `max_drift_ms` bounds how far ahead of the local wall
  // clock an observed remote stamp may be.
  HybridClock(Clock* clock, std::string device_id, HlcStamp last_issued = {},
              int64_t max_drift_ms = kHlcDefaultMaxDriftMs);

  HybridClock(const HybridClock&) = delete;
  HybridClock& operator=(const HybridClock&) = delete;

  // A stamp for a local or send event: strictly greater than every stamp this
  // clock issued or observed before, and equal to the wall clock when the
  // wall clock is ahead of them.
  HlcStamp Now();

  // Receive event: afterwards every Now() is greater than `remote`.
  // Returns kInvalidArgument, leaving the clock unchanged, if `remote` is
  // more than max_drift_ms ahead of the local wall clock (a device with a
  // wildly wrong clock must not drag every other clock forward) or its
  // physical_ms is outside [0, kHlcMaxPhysicalMs].
  Status Observe(const HlcStamp& remote);

  // The greatest (physical_ms, counter) issued or observed so far, with this
  // device's id.
  HlcStamp last_issued() const;

 private:
  // Moves (physical, counter) one tick forward; a full counter carries into
  // the next millisecond. REQUIRES: mu_ held.
  void TickLocked();

  Clock* const clock_;
  const std::string device_id_;
  const int64_t max_drift_ms_;
  mutable std::mutex mu_;
  int64_t physical_ms_;  // guarded by mu_
  uint32_t counter_;     // guarded by mu_
};

}  // namespace doorstep::core

#endif  // DOORSTEP_CORE_HLC_H_
