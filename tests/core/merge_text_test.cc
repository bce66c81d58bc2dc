#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "doorstep/core/env.h"
#include "doorstep/core/merge.h"

namespace doorstep::core {
namespace {

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

void ExpectClean(std::string_view base, std::string_view server,
                 std::string_view device, std::string_view expected) {
  TextMergeResult r = MergeLines(base, server, device);
  EXPECT_FALSE(r.conflict);
  EXPECT_FALSE(r.too_large);
  EXPECT_EQ(r.merged, expected);
  TextMergeResult swapped = MergeLines(base, device, server);
  EXPECT_FALSE(swapped.conflict);
  EXPECT_EQ(swapped.merged, expected);
}

void ExpectConflict(std::string_view base, std::string_view server,
                    std::string_view device) {
  TextMergeResult r = MergeLines(base, server, device);
  EXPECT_TRUE(r.conflict);
  EXPECT_FALSE(r.too_large);
  EXPECT_EQ(r.merged, server);  // server kept provisionally
  EXPECT_TRUE(MergeLines(base, device, server).conflict);
}

const std::string kBase = Join({"one", "two", "three", "four", "five", "six", "seven"});

TEST(MergeLinesTest, TrivialCases) {
  ExpectClean(kBase, kBase, kBase, kBase);
  std::string edited = Join({"one", "TWO", "three", "four", "five", "six", "seven"});
  ExpectClean(kBase, edited, kBase, edited);
  ExpectClean(kBase, edited, edited, edited);
}

TEST(MergeLinesTest, DistantEditsMerge) {
  ExpectClean(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
              Join({"one", "two", "three", "four", "five", "SIX", "seven"}),
              Join({"one", "TWO", "three", "four", "five", "SIX", "seven"}));
}

TEST(MergeLinesTest, AdjacentLineEditsMerge) {
  ExpectClean(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
              Join({"one", "two", "THREE", "four", "five", "six", "seven"}),
              Join({"one", "TWO", "THREE", "four", "five", "six", "seven"}));
  // A deletion next to an edit.
  ExpectClean(kBase, Join({"one", "three", "four", "five", "six", "seven"}),
              Join({"one", "two", "THREE", "four", "five", "six", "seven"}),
              Join({"one", "THREE", "four", "five", "six", "seven"}));
}

TEST(MergeLinesTest, OverlappingEditsConflict) {
  ExpectConflict(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
                 Join({"one", "2", "three", "four", "five", "six", "seven"}));
  // Ranges overlap partly.
  ExpectConflict(kBase, Join({"one", "X", "four", "five", "six", "seven"}),
                 Join({"one", "two", "Y", "five", "six", "seven"}));
  // Deletion against an edit of a deleted line.
  ExpectConflict(kBase, Join({"one", "four", "five", "six", "seven"}),
                 Join({"one", "two", "THREE", "four", "five", "six", "seven"}));
}

TEST(MergeLinesTest, IdenticalChangesOnBothSides) {
  std::string both = Join({"one", "TWO", "three", "four", "five", "six", "seven"});
  ExpectClean(kBase, both, both, both);
  // Same change on both sides plus a distinct change on one side.
  ExpectClean(kBase, Join({"one", "TWO", "three", "four", "five", "SIX", "seven"}),
              both, Join({"one", "TWO", "three", "four", "five", "SIX", "seven"}));
  // Same insertion at the same point is taken once.
  ExpectClean(kBase, Join({"one", "two", "new", "three", "four", "five", "six", "seven"}),
              Join({"one", "two", "new", "three", "four", "five", "six", "SEVEN"}),
              Join({"one", "two", "new", "three", "four", "five", "six", "SEVEN"}));
}

TEST(MergeLinesTest, InsertionsAtTheSamePoint) {
  ExpectConflict(kBase, Join({"one", "two", "A", "three", "four", "five", "six", "seven"}),
                 Join({"one", "two", "B", "three", "four", "five", "six", "seven"}));
  // At the start and at the end.
  ExpectConflict(kBase, "A\n" + kBase, "B\n" + kBase);
  ExpectConflict(kBase, kBase + "A\n", kBase + "B\n");
  // Insertions at different points merge.
  ExpectClean(kBase, "A\n" + kBase, kBase + "B\n", "A\n" + kBase + "B\n");
}

TEST(MergeLinesTest, InsertionAtTheEdgeOfAChangeConflicts) {
  ExpectConflict(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
                 Join({"one", "two", "new", "three", "four", "five", "six", "seven"}));
  ExpectConflict(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
                 Join({"one", "new", "two", "three", "four", "five", "six", "seven"}));
  // One line further away merges.
  ExpectClean(kBase, Join({"one", "TWO", "three", "four", "five", "six", "seven"}),
              Join({"one", "two", "three", "new", "four", "five", "six", "seven"}),
              Join({"one", "TWO", "three", "new", "four", "five", "six", "seven"}));
}

TEST(MergeLinesTest, MissingTrailingNewline) {
  // Appending to a text without a final newline changes its last line.
  ExpectClean("a\nb", "a\nb\nc", "A\nb", "A\nb\nc");
  ExpectClean("a\nb", "a\nb\n", "A\nb", "A\nb\n");
  ExpectClean("a\nb\n", "a\nb", "A\nb\n", "A\nb");
  ExpectConflict("a\nb", "a\nb\nc", "a\nb\nd");
  ExpectConflict("a\nb", "a\nb\n", "a\nB");
  // A side that ends without a newline after deleting the tail cannot be
  // joined with an insertion at the end by the other side.
  ExpectConflict("a\nb\nc\n", "a\nb", "a\nb\nc\nd\n");
  ExpectClean("a\nb\nc\n", "a\nb", "A\nb\nc\n", "A\nb");
  // No newline anywhere.
  ExpectClean("x", "y", "x", "y");
  ExpectConflict("x", "y", "z");
}

TEST(MergeLinesTest, CrlfIsLeftAsIs) {
  ExpectClean("a\r\nb\r\nc\r\nd\r\n", "A\r\nb\r\nc\r\nd\r\n", "a\r\nb\r\nc\r\nD\r\n",
              "A\r\nb\r\nc\r\nD\r\n");
  // Changing only the line ending is a change of that line.
  ExpectClean("a\r\nb\r\nc\r\n", "a\nb\r\nc\r\n", "a\r\nb\r\nC\r\n", "a\nb\r\nC\r\n");
  ExpectConflict("a\r\nb\r\n", "a\nb\r\n", "A\r\nb\r\n");
}

TEST(MergeLinesTest, EmptyTexts) {
  ExpectClean("", "", "", "");
  ExpectClean("", "x\n", "", "x\n");
  ExpectClean("", "x\n", "x\n", "x\n");
  ExpectConflict("", "x\n", "y\n");
  ExpectClean("a\n", "", "", "");
  ExpectClean("a\nb\nc\n", "", "a\nb\nc\n", "");
  ExpectConflict("a\nb\nc\n", "", "a\nB\nc\n");
  ExpectClean("\n\n\n", "\n\nx\n", "y\n\n\n", "y\n\nx\n");
}

// Random texts over a small vocabulary (so lines repeat), sometimes without a
// final newline, sometimes with CRLF lines.
std::string RandomText(SeededRandom& rng, size_t max_lines) {
  static const char* kWords[] = {"alpha", "beta", "gamma", "delta", "", "x\r"};
  size_t n = rng.NextU64() % (max_lines + 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) out += std::string(kWords[rng.NextU64() % 6]) + "\n";
  if (!out.empty() && rng.NextU64() % 4 == 0) out.pop_back();
  return out;
}

std::string RandomEdit(SeededRandom& rng, const std::string& text) {
  std::vector<std::string> lines;
  for (std::string_view l : SplitLines(text)) lines.emplace_back(l);
  int ops = 1 + static_cast<int>(rng.NextU64() % 3);
  for (int k = 0; k < ops; ++k) {
    size_t at = lines.empty() ? 0 : rng.NextU64() % (lines.size() + 1);
    std::string fresh = "new" + std::to_string(rng.NextU64() % 3) + "\n";
    switch (rng.NextU64() % 4) {
      case 0: lines.insert(lines.begin() + at, fresh); break;
      case 1: if (at < lines.size()) lines.erase(lines.begin() + at); break;
      case 2: if (at < lines.size()) lines[at] = fresh; break;
      default: if (!lines.empty() && lines.back().back() == '\n') lines.back().pop_back(); break;
    }
  }
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

TEST(MergeLinesTest, PropertiesOnRandomTexts) {
  SeededRandom rng(2024);
  int conflicts = 0, clean_both_changed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string base = RandomText(rng, 12);
    std::string a = RandomEdit(rng, base);
    std::string b = RandomEdit(rng, base);
    SCOPED_TRACE("iteration " + std::to_string(iter));
    TextMergeResult r;
    r = MergeLines(base, a, base);
    ASSERT_FALSE(r.conflict);
    ASSERT_EQ(r.merged, a);
    r = MergeLines(base, base, a);
    ASSERT_FALSE(r.conflict);
    ASSERT_EQ(r.merged, a);
    r = MergeLines(base, a, a);
    ASSERT_FALSE(r.conflict);
    ASSERT_EQ(r.merged, a);
    TextMergeResult ab = MergeLines(base, a, b);
    TextMergeResult ba = MergeLines(base, b, a);
    ASSERT_EQ(ab.conflict, ba.conflict);
    if (ab.conflict) {
      ++conflicts;
      ASSERT_EQ(ab.merged, a);
      ASSERT_EQ(ba.merged, b);
    } else {
      ASSERT_EQ(ab.merged, ba.merged);
      if (a != base && b != base && a != b) ++clean_both_changed;
      // Merging the result again with either side changes nothing.
      ASSERT_EQ(MergeLines(a, ab.merged, a).merged, ab.merged);
    }
  }
  // The generator exercises both outcomes.
  EXPECT_GT(conflicts, 100);
  EXPECT_GT(clean_both_changed, 100);
}

// With unique lines, edits to regions at least two lines apart always merge,
// and the result contains both edits.
TEST(MergeLinesTest, DisjointRandomEditsMergeToBoth) {
  SeededRandom rng(77);
  for (int iter = 0; iter < 300; ++iter) {
    size_t n = 10 + rng.NextU64() % 40;
    std::vector<std::string> base;
    for (size_t i = 0; i < n; ++i) base.push_back("line " + std::to_string(i));
    size_t cut = 3 + rng.NextU64() % (n - 6);
    std::vector<std::string> server = base, device = base, both = base;
    // Server edits a line before cut-1, device a line after cut+1 (indexes
    // into the original), applied from the back so indexes stay valid.
    size_t s_at = rng.NextU64() % (cut - 1);
    size_t d_at = cut + 1 + rng.NextU64() % (n - cut - 1);
    int s_op = static_cast<int>(rng.NextU64() % 3);
    int d_op = static_cast<int>(rng.NextU64() % 3);
    auto apply = [](std::vector<std::string>& v, size_t at, int op, const std::string& tag) {
      if (op == 0) v[at] = tag;
      if (op == 1) v.erase(v.begin() + static_cast<long>(at));
      if (op == 2) v.insert(v.begin() + static_cast<long>(at), tag);
    };
    apply(server, s_at, s_op, "server edit");
    apply(device, d_at, d_op, "device edit");
    apply(both, d_at, d_op, "device edit");
    apply(both, s_at, s_op, "server edit");
    ExpectClean(Join(base), Join(server), Join(device), Join(both));
  }
}

TEST(MergeLinesTest, TenThousandLinesMergeQuickly) {
  std::vector<std::string> base;
  for (int i = 0; i < 10'000; ++i) base.push_back("Observation line " + std::to_string(i % 997));
  std::vector<std::string> server = base, device = base;
  server[100] = "server changed this";
  server.insert(server.begin() + 5000, "server inserted");
  device[9000] = "device changed this";
  device.erase(device.begin() + 2000);
  std::vector<std::string> expected = base;
  expected[9000] = "device changed this";
  expected.insert(expected.begin() + 5000, "server inserted");
  expected.erase(expected.begin() + 2000);
  expected[100] = "server changed this";
  auto start = std::chrono::steady_clock::now();
  TextMergeResult r = MergeLines(Join(base), Join(server), Join(device));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(r.conflict);
  EXPECT_EQ(r.merged, Join(expected));
  EXPECT_LT(ms, 500);  // typically a few ms; generous for a shared machine
}

TEST(MergeLinesTest, HugeUnrelatedTextsFinish) {
  std::string base, server, device;
  for (int i = 0; i < 60'000; ++i) {
    base += "b" + std::to_string(i) + "\n";
    server += "s" + std::to_string(i) + "\n";
    device += "d" + std::to_string(i) + "\n";
  }
  TextMergeResult r = MergeLines(base, server, device);
  EXPECT_TRUE(r.conflict);
  EXPECT_FALSE(r.too_large);
}

TEST(MergeLinesTest, OversizeInputsConflictWithFlag) {
  std::string big(kMergeMaxTextBytes + 1, 'a');
  TextMergeResult r = MergeLines("a\n", big, "b\n");
  EXPECT_TRUE(r.conflict);
  EXPECT_TRUE(r.too_large);
  EXPECT_EQ(r.merged, big);
  std::string many_lines(kMergeMaxTextLines + 1, '\n');
  r = MergeLines("a\n", "b\n", many_lines);
  EXPECT_TRUE(r.conflict);
  EXPECT_TRUE(r.too_large);
  // One side unchanged still merges, whatever the size.
  r = MergeLines("a\n", big, "a\n");
  EXPECT_FALSE(r.conflict);
  EXPECT_EQ(r.merged, big);
  // Exactly at the line limit is allowed.
  std::string below(kMergeMaxTextLines - 1, '\n');
  r = MergeLines(below, below + "x\n", "y\n" + below);
  EXPECT_FALSE(r.too_large);
  EXPECT_FALSE(r.conflict);
}

}  // namespace
}  // namespace doorstep::core
