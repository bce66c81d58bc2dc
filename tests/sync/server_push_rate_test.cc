// Push throughput of ServerCore on each store backend (no network): batches of
// 256 new ~1 KB visit notes, then a batch of edits of existing records; each
// batch is one transaction. Prints the rate (a smoke, not a goal: the goal
// figures come from `doorstep bench sync`); checks every mutation applied
// exactly once and the audit chain verifies.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "server_fixture.h"

namespace doorstep::sync {
namespace {

class ServerPushRateTest : public testing::ServerFixtureP {};

TEST_P(ServerPushRateTest, BatchesOf256ApplyOnceAndAuditVerifies) {
  SessionContext sw = Device("worker-1", "social_worker");
  for (int s = 0; s < 20; ++s) ASSERT_TRUE(core_->Assign("worker-1", "child-" + std::to_string(s)).ok());
  nlohmann::json fields = Sample("visit_note");
  constexpr int kBatches = 8;
  std::vector<Push> pushes(kBatches);
  std::vector<std::string> ids;
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < 256; ++i) {
      ids.push_back(RandomHex());
      fields["observations"] = "Observed during visit " + std::to_string(ids.size()) + ".";
      pushes[b].m.push_back(Create(sw, ids.back(), "visit_note", "child-" + std::to_string(i % 20),
                                   fields, "final"));
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  for (const Push& p : pushes) {
    auto r = core_->ApplyPush(sw, p);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const MutationResult& m : r->r) ASSERT_EQ(m.outcome, Outcome::kApplied) << m.reason;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("server push, new records: %.0f mutations/s\n", kBatches * 256 / s);

  Push edits;
  for (int i = 0; i < 256; ++i) {
    edits.m.push_back(Edit(sw, ids[static_cast<size_t>(i)], "visit_note", "child-" + std::to_string(i % 20), 1,
                           "analysis", fields["analysis"], "Edited analysis " + std::to_string(i) + "."));
  }
  t0 = std::chrono::steady_clock::now();
  auto r = core_->ApplyPush(sw, edits);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("server push, edits: %.0f mutations/s\n", 256 / s);
  for (const MutationResult& m : r->r) EXPECT_EQ(m.rev, 2) << m.reason;

  // A replayed batch changes nothing and answers the same.
  auto again = core_->ApplyPush(sw, edits);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < again->r.size(); ++i) EXPECT_EQ(again->r[i].rev, r->r[i].rev);
  auto verified = core_->VerifyAudit();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
}

DOORSTEP_BOTH_BACKENDS(ServerPushRateTest);

}  // namespace
}  // namespace doorstep::sync
