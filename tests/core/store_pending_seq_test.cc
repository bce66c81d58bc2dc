// Mutation seqs (docs/store.md, "Mutation ids"; from store format 4 a
// mutation's seq is its version's): a batch queries the file once, at its
// first write, and then counts on its own; once the batch's transaction ends
// another handle may add rows, so the next write queries again and its seq
// (and mutation id) stays above them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"

namespace doorstep::core {
namespace {

class StorePendingSeqTest : public testing::StoreTestBase {
 protected:
  StorePendingSeqTest() : StoreTestBase(/*seed=*/5) {}

  static void AddOne(Store& s) {
    auto w = s.Add("visit_note", "S-SEQ", SampleFields("visit_note", 1'764'000'000'000), "final");
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(w->saved());
  }

  // The queued mutations' seqs (the mutation ids' last eight hex digits).
  static std::vector<int64_t> Seqs(Store& s) {
    auto m = PendingMutations(s, 1000);
    EXPECT_TRUE(m.ok());
    std::vector<int64_t> out;
    for (const OutgoingMutation& x : *m) out.push_back(std::stoll(x.mutation_id.substr(24), nullptr, 16));
    return out;
  }
};

TEST_F(StorePendingSeqTest, BatchesCountOnTheirOwnAndSeeOtherHandlesRowsAfterwards) {
  StoreOptions options;
  ASSERT_TRUE(Store::Create(path_, Key(), options, env_).ok());
  std::unique_ptr<Store> a = OpenUnlocked();
  std::unique_ptr<Store> b = OpenUnlocked();

  ASSERT_TRUE(a->BeginBatch().ok());
  for (int i = 0; i < 3; ++i) AddOne(*a);
  ASSERT_TRUE(a->CommitBatch().ok());
  AddOne(*b);  // seq 4: b queried the table
  // a's next batch must not take 4 from its own count: the first write of
  // the batch queries again (without that, its insert of seq 4 fails).
  ASSERT_TRUE(a->BeginBatch().ok());
  AddOne(*a);
  AddOne(*a);
  ASSERT_TRUE(a->CommitBatch().ok());
  AddOne(*b);
  AddOne(*a);  // one-write transactions query every time
  EXPECT_EQ(Seqs(*a), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));

  // A write refused inside a batch (its savepoint rolled back) leaves the
  // batch's count going on; nothing repeats.
  ASSERT_TRUE(a->BeginBatch().ok());
  AddOne(*a);
  auto refused = a->Add("visit_note", "S-SEQ", nlohmann::json::object(), "final");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->saved());
  AddOne(*a);
  ASSERT_TRUE(a->CommitBatch().ok());
  AddOne(*b);
  std::vector<int64_t> seqs = Seqs(*b);
  ASSERT_EQ(seqs.size(), 11u);
  EXPECT_EQ(std::set<int64_t>(seqs.begin(), seqs.end()).size(), seqs.size());
  EXPECT_GT(seqs.back(), seqs[seqs.size() - 2]);
}

}  // namespace
}  // namespace doorstep::core
