#include "doorstep/core/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "doorstep/core/env.h"

namespace doorstep::core {
namespace {

constexpr int64_t kStart = 1'760'000'000'000;
constexpr int64_t kHour = 60LL * 60 * 1000;

TEST(HlcStampTest, EncodeFormat) {
  HlcStamp s{kStart, 42, "ab12"};
  EXPECT_EQ(s.Encode(), "1760000000000-0000002a-ab12");
  HlcStamp zero{0, 0, "0"};
  EXPECT_EQ(zero.Encode(), "0000000000000-00000000-0");
  HlcStamp max{kHlcMaxPhysicalMs, std::numeric_limits<uint32_t>::max(),
               std::string(64, 'f')};
  EXPECT_EQ(max.Encode().size(), kHlcMaxEncodedChars);
  EXPECT_EQ(max.Encode(), "9999999999999-ffffffff-" + std::string(64, 'f'));
  EXPECT_EQ((HlcStamp{1234, 0xdeadbeef, "x-1"}.Encode()), "0000000001234-deadbeef-x-1");
  // Out-of-range times are clamped, as Decode's range requires.
  EXPECT_EQ((HlcStamp{-5, 1, "d"}.Encode()), "0000000000000-00000001-d");
  EXPECT_EQ((HlcStamp{kHlcMaxPhysicalMs + 1, 1, "d"}.Encode()), "9999999999999-00000001-d");
}

TEST(HlcStampTest, RoundTrip) {
  for (const HlcStamp& s :
       {HlcStamp{kStart, 0, "a"}, HlcStamp{1, 7, "0123456789abcdef"},
        HlcStamp{kHlcMaxPhysicalMs, 0xffffffffu, std::string(64, 'e')}}) {
    auto decoded = HlcStamp::Decode(s.Encode());
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, s);
    EXPECT_EQ(decoded->device_id, s.device_id);
  }
}

TEST(HlcStampTest, OrderIsPhysicalCounterDevice) {
  EXPECT_LT((HlcStamp{1, 9, "f"}), (HlcStamp{2, 0, "0"}));
  EXPECT_LT((HlcStamp{2, 1, "f"}), (HlcStamp{2, 2, "0"}));
  EXPECT_LT((HlcStamp{2, 2, "a"}), (HlcStamp{2, 2, "b"}));
  EXPECT_LT((HlcStamp{2, 2, "a"}), (HlcStamp{2, 2, "a0"}));
  EXPECT_EQ((HlcStamp{2, 2, "a"}), (HlcStamp{2, 2, "a"}));
  EXPECT_NE((HlcStamp{2, 2, "a"}), (HlcStamp{2, 2, "b"}));
}

TEST(HlcStampTest, EncodedSortOrderMatchesCompare) {
  SeededRandom rng(7);
  std::vector<HlcStamp> stamps;
  const char* ids[] = {"a", "a0", "ab", "b", "0", "ff", "f"};
  for (int i = 0; i < 500; ++i) {
    uint64_t r = rng.NextU64();
    stamps.push_back(HlcStamp{static_cast<int64_t>((r % 5) * 999999 + (r % 3)),
                              static_cast<uint32_t>((r >> 8) % 4) * 0x10000u,
                              ids[(r >> 16) % 7]});
  }
  for (const HlcStamp& a : stamps) {
    for (const HlcStamp& b : {stamps[0], stamps[1], stamps[2], stamps[99]}) {
      int by_text = a.Encode().compare(b.Encode());
      by_text = by_text < 0 ? -1 : (by_text > 0 ? 1 : 0);
      EXPECT_EQ(by_text, CompareHlc(a, b)) << a.Encode() << " vs " << b.Encode();
    }
  }
  std::vector<HlcStamp> sorted = stamps;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> texts;
  for (const HlcStamp& s : stamps) texts.push_back(s.Encode());
  std::sort(texts.begin(), texts.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i].Encode(), texts[i]);
}

TEST(HlcStampTest, DecodeRejectsHostileInput) {
  const std::string good = "1760000000000-0000002a-ab12";
  ASSERT_TRUE(HlcStamp::Decode(good).ok());
  const std::vector<std::string> bad = {
      "",
      "1760000000000-0000002a-",           // empty device id
      "1760000000000-0000002a",            // no device id
      "176000000000-0000002a-ab12",        // 12 digits
      "17600000000000-0000002a-ab12",      // 14 digits
      "1760000000000-000002a-ab12",        // 7 hex digits
      "-760000000000-0000002a-ab12",       // sign
      "+760000000000-0000002a-ab12",
      " 760000000000-0000002a-ab12",
      "1760000000000_0000002a-ab12",       // wrong separator
      "1760000000000-0000002a_ab12",
      "1760000000000-0000002A-ab12",       // uppercase hex
      "1760000000000-0000002g-ab12",
      "1760000000000-0000002a-AB12",       // uppercase device id
      "1760000000000-0000002a-ab12 ",      // trailing space
      "1760000000000-0000002a-ab-12",      // separator in id
      "1760000000000-0000002a-ab12\n",
      "1760000000000-0000002a-" + std::string(65, 'a'),  // id too long
      "1760000000000-0000002a-" + std::string(10000, 'a'),
      std::string("1760000000000-0000002a-ab\0" "12", 27),  // embedded NUL
      "1760000000000-0x00002a-ab12",
      "176000000000a-0000002a-ab12",
  };
  for (const std::string& s : bad) {
    auto r = HlcStamp::Decode(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << s;
  }
}

TEST(HlcStampTest, DeviceIdCharset) {
  EXPECT_TRUE(IsValidHlcDeviceId("0123456789abcdef"));
  EXPECT_TRUE(IsValidHlcDeviceId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidHlcDeviceId(""));
  EXPECT_FALSE(IsValidHlcDeviceId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidHlcDeviceId("abcg"));
  EXPECT_FALSE(IsValidHlcDeviceId("ABC"));
}

TEST(HybridClockTest, FollowsWallClockAndTicksWithinAMillisecond) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, "d1");
  HlcStamp a = hlc.Now();
  EXPECT_EQ(a.physical_ms, kStart);
  EXPECT_EQ(a.counter, 0u);
  EXPECT_EQ(a.device_id, "d1");
  HlcStamp b = hlc.Now();
  EXPECT_EQ(b.physical_ms, kStart);
  EXPECT_EQ(b.counter, 1u);
  clock.AdvanceMillis(5);
  HlcStamp c = hlc.Now();
  EXPECT_EQ(c.physical_ms, kStart + 5);
  EXPECT_EQ(c.counter, 0u);
  EXPECT_EQ(hlc.last_issued(), c);
}

TEST(HybridClockTest, MonotonicWhenWallClockJumpsBackByHours) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, "d1");
  HlcStamp prev = hlc.Now();
  for (int i = 0; i < 1000; ++i) {
    if (i == 100) clock.SetMillis(kStart - 5 * kHour);   // jump back 5 hours
    if (i == 300) clock.AdvanceMillis(2 * kHour);        // still behind
    if (i == 500) clock.SetMillis(0);                    // reset to epoch
    if (i == 700) clock.SetMillis(-kHour);               // nonsense clock
    if (i == 900) clock.SetMillis(kStart + 1);           // back to normal
    HlcStamp next = hlc.Now();
    ASSERT_GT(next, prev) << i;
    ASSERT_LT(prev.Encode(), next.Encode()) << i;
    prev = next;
  }
  // Once the wall clock passes the stamps again, the clock follows it.
  clock.SetMillis(kStart + kHour);
  EXPECT_EQ(hlc.Now().physical_ms, kStart + kHour);
  EXPECT_EQ(hlc.last_issued().counter, 0u);
}

TEST(HybridClockTest, RestoresFromLastIssued) {
  FakeClock clock(kStart - kHour);  // wall clock behind the persisted stamp
  HybridClock hlc(&clock, "d1", HlcStamp{kStart, 9, "d1"});
  HlcStamp s = hlc.Now();
  EXPECT_EQ(s.physical_ms, kStart);
  EXPECT_EQ(s.counter, 10u);
}

TEST(HybridClockTest, ObservePushesAhead) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, "d1");
  HlcStamp remote{kStart + 60'000, 5, "d2"};  // a peer one minute ahead
  ASSERT_TRUE(hlc.Observe(remote).ok());
  HlcStamp s = hlc.Now();
  EXPECT_GT(s, remote);
  EXPECT_EQ(s.physical_ms, remote.physical_ms);
  EXPECT_EQ(s.counter, 6u);
  // Observing an older stamp changes nothing.
  ASSERT_TRUE(hlc.Observe(HlcStamp{kStart - 1, 100, "d3"}).ok());
  EXPECT_EQ(hlc.Now().counter, 7u);
  // Equal (physical, counter) from another device: still strictly after.
  HlcStamp same = hlc.last_issued();
  same.device_id = "ff";
  ASSERT_TRUE(hlc.Observe(same).ok());
  EXPECT_GT(hlc.Now(), same);
}

TEST(HybridClockTest, ObserveRefusesStampsBeyondMaxDrift) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, "d1");
  HlcStamp before = hlc.Now();
  Status s = hlc.Observe(HlcStamp{kStart + 25 * kHour, 0, "d2"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hlc.last_issued(), before);  // unchanged
  EXPECT_TRUE(hlc.Observe(HlcStamp{kStart + 23 * kHour, 0, "d2"}).ok());
  EXPECT_EQ(hlc.Observe(HlcStamp{-1, 0, "d2"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hlc.Observe(HlcStamp{kHlcMaxPhysicalMs + 1, 0, "d2"}).code(),
            StatusCode::kInvalidArgument);

  HybridClock strict(&clock, "d1", {}, /*max_drift_ms=*/1000);
  EXPECT_TRUE(strict.Observe(HlcStamp{kStart + 1000, 0, "d2"}).ok());
  EXPECT_EQ(strict.Observe(HlcStamp{kStart + 1001, 0, "d2"}).code(),
            StatusCode::kInvalidArgument);
}

TEST(HybridClockTest, CounterOverflowCarriesIntoNextMillisecond) {
  FakeClock clock(kStart);
  HybridClock hlc(&clock, "d1",
                  HlcStamp{kStart, std::numeric_limits<uint32_t>::max() - 1, "d1"});
  HlcStamp a = hlc.Now();
  EXPECT_EQ(a.physical_ms, kStart);
  EXPECT_EQ(a.counter, std::numeric_limits<uint32_t>::max());
  HlcStamp b = hlc.Now();
  EXPECT_EQ(b.physical_ms, kStart + 1);
  EXPECT_EQ(b.counter, 0u);
  EXPECT_GT(b, a);

  HybridClock other(&clock, "d2");
  ASSERT_TRUE(other.Observe(a).ok());
  HlcStamp c = other.Now();
  EXPECT_GT(c, a);
  EXPECT_EQ(c.physical_ms, kStart + 1);
}

}  // namespace
}  // namespace doorstep::core
