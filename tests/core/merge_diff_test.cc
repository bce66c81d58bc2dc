// Tests of the Myers line diff behind MergeLines (merge_diff_internal.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "doorstep/core/env.h"
#include "merge_diff_internal.h"

namespace doorstep::core::merge_internal {
namespace {

using Seq = std::vector<uint32_t>;

size_t LcsLength(const Seq& a, const Seq& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      t[i][j] = a[i] == b[j] ? t[i + 1][j + 1] + 1 : std::max(t[i + 1][j], t[i][j + 1]);
    }
  }
  return t[0][0];
}

// Checks the hunks are ordered, separated, consistent, and turn a into b.
// Returns the edit count (deleted + inserted elements).
size_t CheckDiff(const Seq& a, const Seq& b, const std::vector<Hunk>& hunks) {
  Seq rebuilt;
  size_t pos_a = 0, pos_b = 0, edits = 0;
  for (size_t h = 0; h < hunks.size(); ++h) {
    const Hunk& k = hunks[h];
    EXPECT_LE(k.a_begin, k.a_end);
    EXPECT_LE(k.b_begin, k.b_end);
    EXPECT_TRUE(k.a_begin < k.a_end || k.b_begin < k.b_end) << "empty hunk";
    if (h > 0) {
      EXPECT_GT(k.a_begin, pos_a) << "hunks not separated in a";
      EXPECT_GT(k.b_begin, pos_b) << "hunks not separated in b";
    }
    EXPECT_EQ(k.a_begin - pos_a, k.b_begin - pos_b) << "unchanged runs differ";
    for (size_t i = pos_a; i < k.a_begin; ++i) {
      EXPECT_EQ(a[i], b[pos_b + (i - pos_a)]);
      rebuilt.push_back(a[i]);
    }
    rebuilt.insert(rebuilt.end(), b.begin() + k.b_begin, b.begin() + k.b_end);
    edits += (k.a_end - k.a_begin) + (k.b_end - k.b_begin);
    pos_a = k.a_end;
    pos_b = k.b_end;
  }
  rebuilt.insert(rebuilt.end(), a.begin() + pos_a, a.end());
  EXPECT_EQ(rebuilt, b);
  return edits;
}

Seq RandomSeq(SeededRandom& rng, size_t max_len, uint32_t alphabet) {
  size_t len = rng.NextU64() % (max_len + 1);
  Seq s;
  for (size_t i = 0; i < len; ++i) s.push_back(static_cast<uint32_t>(rng.NextU64() % alphabet));
  return s;
}

TEST(MergeDiffTest, EdgeCases) {
  EXPECT_TRUE(DiffSequences({}, {}).empty());
  EXPECT_TRUE(DiffSequences({1, 2, 3}, {1, 2, 3}).empty());
  auto h = DiffSequences({}, {1, 2});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(CheckDiff({}, {1, 2}, h), 2u);
  h = DiffSequences({1, 2}, {});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(CheckDiff({1, 2}, {}, h), 2u);
  h = DiffSequences({1, 2, 3}, {1, 9, 3});
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].a_begin, 1u);
  EXPECT_EQ(h[0].a_end, 2u);
  EXPECT_EQ(h[0].b_begin, 1u);
  EXPECT_EQ(h[0].b_end, 2u);
}

TEST(MergeDiffTest, RandomDiffsAreCorrectAndMinimal) {
  SeededRandom rng(12345);
  for (int iter = 0; iter < 3000; ++iter) {
    uint32_t alphabet = 2 + static_cast<uint32_t>(iter % 7);
    Seq a = RandomSeq(rng, 40, alphabet);
    Seq b = RandomSeq(rng, 40, alphabet);
    size_t edits = CheckDiff(a, b, DiffSequences(a, b));
    ASSERT_EQ(edits, a.size() + b.size() - 2 * LcsLength(a, b))
        << "iteration " << iter;
  }
}

TEST(MergeDiffTest, SmallEditsOfLongSequencesAreMinimal) {
  SeededRandom rng(99);
  for (int iter = 0; iter < 200; ++iter) {
    Seq a = RandomSeq(rng, 300, 5);
    Seq b = a;
    int ops = static_cast<int>(rng.NextU64() % 6);
    for (int k = 0; k < ops; ++k) {
      size_t at = b.empty() ? 0 : rng.NextU64() % b.size();
      switch (rng.NextU64() % 3) {
        case 0: b.insert(b.begin() + at, 7); break;
        case 1: if (!b.empty()) b.erase(b.begin() + at); break;
        default: if (!b.empty()) b[at] = 8; break;
      }
    }
    size_t edits = CheckDiff(a, b, DiffSequences(a, b));
    ASSERT_EQ(edits, a.size() + b.size() - 2 * LcsLength(a, b)) << iter;
  }
}

TEST(MergeDiffTest, ExhaustedBudgetStillGivesACorrectDiff) {
  SeededRandom rng(5);
  for (int iter = 0; iter < 200; ++iter) {
    Seq a = RandomSeq(rng, 60, 4);
    Seq b = RandomSeq(rng, 60, 4);
    for (uint64_t budget : {0ull, 1ull, 10ull, 100ull}) {
      CheckDiff(a, b, DiffSequences(a, b, budget));
    }
  }
}

TEST(MergeDiffTest, LargeDisjointInputsFinishWithinBudget) {
  Seq a, b;
  for (uint32_t i = 0; i < 100'000; ++i) {
    a.push_back(i);
    b.push_back(i + 1'000'000);
  }
  auto hunks = DiffSequences(a, b);
  ASSERT_EQ(hunks.size(), 1u);
  EXPECT_EQ(hunks[0].a_end, a.size());
  EXPECT_EQ(hunks[0].b_end, b.size());
}

}  // namespace
}  // namespace doorstep::core::merge_internal
