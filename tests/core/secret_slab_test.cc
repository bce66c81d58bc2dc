// Tests of SecretSlab (secret_slab_internal.h), the locked slots behind
// small SecretBytes: released slots are wiped and reused, chunks are added
// only when every slot is taken, and misuse (writing outside a slot, a
// double release, a pointer that is not a slot) aborts.
#include "secret_slab_internal.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "doorstep/core/secret.h"

namespace doorstep::internal {
namespace {

bool AllZero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

class SecretSlabTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Initialize().ok()); }
};

TEST_F(SecretSlabTest, ReleasedSlotIsWipedAndReused) {
  SecretSlab slab;
  unsigned char* a = slab.Allocate();
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(AllZero(a, SecretSlab::kSlotBytes));
  EXPECT_EQ(slab.slots_in_use(), 1u);
  std::memset(a, 0xAB, SecretSlab::kSlotBytes);
  slab.Release(a);
  EXPECT_EQ(slab.slots_in_use(), 0u);
  // The chunk stays mapped: the released bytes are readable, and zero.
  EXPECT_TRUE(AllZero(a, SecretSlab::kSlotBytes));
  unsigned char* b = slab.Allocate();
  EXPECT_EQ(b, a);  // last released, first reused
  EXPECT_TRUE(AllZero(b, SecretSlab::kSlotBytes));
  slab.Release(b);
}

TEST_F(SecretSlabTest, AddsAChunkOnlyWhenFull) {
  SecretSlab slab;
  std::vector<unsigned char*> slots;
  for (size_t i = 0; i < SecretSlab::kSlotsPerChunk; ++i) slots.push_back(slab.Allocate());
  EXPECT_EQ(slab.chunks(), 1u);
  slots.push_back(slab.Allocate());
  EXPECT_EQ(slab.chunks(), 2u);
  // Distinct, non-overlapping slots.
  for (size_t i = 1; i < slots.size(); ++i) {
    ASSERT_NE(slots[i], nullptr);
    EXPECT_NE(slots[i], slots[i - 1]);
  }
  for (unsigned char* s : slots) std::memset(s, 0x5A, SecretSlab::kSlotBytes);
  for (unsigned char* s : slots) slab.Release(s);  // every canary intact
  EXPECT_EQ(slab.slots_in_use(), 0u);
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = slab.Allocate();
  EXPECT_EQ(slab.chunks(), 2u);  // all reused, no third chunk
  for (unsigned char* s : slots) {
    EXPECT_TRUE(AllZero(s, SecretSlab::kSlotBytes));
    slab.Release(s);
  }
}

TEST_F(SecretSlabTest, ThreadsShareTheSlab) {
  SecretSlab slab;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&slab, t] {
      for (int i = 0; i < 500; ++i) {
        unsigned char* a = slab.Allocate();
        unsigned char* b = slab.Allocate();
        std::memset(a, t, SecretSlab::kSlotBytes);
        std::memset(b, t, SecretSlab::kSlotBytes);
        slab.Release(a);
        slab.Release(b);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(slab.slots_in_use(), 0u);
  EXPECT_EQ(slab.chunks(), 1u);
}

using SecretSlabDeathTest = SecretSlabTest;

TEST_F(SecretSlabDeathTest, WritingPastTheSlotAbortsOnRelease) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SecretSlab slab;
        unsigned char* a = slab.Allocate();
        a[SecretSlab::kSlotBytes] ^= 1;  // first byte of the next canary
        slab.Release(a);
      },
      "");
}

TEST_F(SecretSlabDeathTest, WritingBeforeTheSlotAbortsOnRelease) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SecretSlab slab;
        unsigned char* a = slab.Allocate();
        a[-1] ^= 1;
        slab.Release(a);
      },
      "");
}

TEST_F(SecretSlabDeathTest, DoubleReleaseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SecretSlab slab;
        unsigned char* a = slab.Allocate();
        slab.Release(a);
        slab.Release(a);
      },
      "");
}

TEST_F(SecretSlabDeathTest, ForeignOrMisalignedPointerAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SecretSlab slab;
        (void)slab.Allocate();
        unsigned char local[SecretSlab::kSlotBytes] = {};
        slab.Release(local);
      },
      "");
  EXPECT_DEATH(
      {
        SecretSlab slab;
        unsigned char* a = slab.Allocate();
        slab.Release(a + 1);
      },
      "");
}

TEST_F(SecretSlabTest, SmallSecretBytesUseTheGlobalSlab) {
  SecretSlab& g = SecretSlab::Global();
  const size_t before = g.slots_in_use();
  unsigned char* p = nullptr;
  {
    SecretBytes k(32);
    ASSERT_EQ(k.size(), 32u);
    EXPECT_EQ(g.slots_in_use(), before + 1);
    std::memset(k.data(), 0xC3, k.size());
    p = k.data();
    SecretBytes h(64);
    EXPECT_EQ(g.slots_in_use(), before + 2);
  }
  EXPECT_EQ(g.slots_in_use(), before);
  EXPECT_TRUE(AllZero(p, SecretSlab::kSlotBytes));  // wiped when released
  SecretBytes big(65);  // its own sodium_malloc, not a slot
  ASSERT_EQ(big.size(), 65u);
  EXPECT_TRUE(AllZero(big.data(), big.size()));
  EXPECT_EQ(g.slots_in_use(), before);
}

}  // namespace
}  // namespace doorstep::internal
