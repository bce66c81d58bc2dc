// Regressions found by `doorstep sim` (docs/sim.md), kept as small tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"
#include "e2e_util.h"
#include "live_server.h"

namespace doorstep::e2e {
namespace {

// Sim seeds 11, 21, 23, 24 (8 devices, 400 ops): an edit that set a field of
// a final record to the value it already had made a local amendment
// (amends = rev) and a mutation; the server saw no change and wrote no
// revision, so the device kept an envelope the server never had. An edit that
// changes nothing must write nothing.
TEST(SimRegressTest, EditThatChangesNothingWritesNothing) {
  ASSERT_TRUE(Initialize().ok());
  TempDir tmp;
  Env env = RealEnv();
  e2e::LiveServer live;
  ASSERT_NO_FATAL_FAILURE(live.Start(tmp.path(), env));
  sync::ServerCore& core = live.core();
  auto store = live.NewDevice(tmp.File("phone.db"), "worker-1", "social_worker");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(core.Assign("worker-1", "S-1").ok());

  auto fields = core::SampleFields("visit_note", env.clock->NowMillis());
  auto added = store->Add("visit_note", "S-1", fields, "final");
  ASSERT_TRUE(added.ok() && added->saved());
  const std::string id = added->record.id;
  ASSERT_TRUE(sync::RunSync(*store, env, {}).ok());
  auto before = store->History(id);
  ASSERT_TRUE(before.ok());

  auto same = store->Edit(id, {{"location", fields["location"]}, {"no_such_field", nullptr}}, std::nullopt);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->saved());
  EXPECT_FALSE(same->record.amends.has_value());
  auto st = store->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending, 0);
  EXPECT_EQ(store->History(id)->size(), before->size());
  auto same_status = store->Edit(id, nlohmann::json::object(), std::string("final"));
  ASSERT_TRUE(same_status.ok());
  EXPECT_EQ(store->GetStatus()->pending, 0);

  // A real change of a final record is still an amendment.
  auto amended = store->Edit(id, {{"location", "Family home, kitchen"}}, std::nullopt);
  ASSERT_TRUE(amended.ok() && amended->saved());
  EXPECT_EQ(amended->record.amends, std::optional<int64_t>(1));
  ASSERT_TRUE(sync::RunSync(*store, env, {}).ok());
  auto local = store->Get(id);
  auto txn = live.store().Begin(sync::TxnMode::kRead);
  ASSERT_TRUE(txn.ok());
  auto head = (*txn)->GetHead(id);
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ(local->rev, (*head)->record.rev);
  EXPECT_EQ(local->amends, (*head)->record.amends);
  EXPECT_EQ(local->fields, (*head)->record.fields);
  txn->reset();
}

// Sim seed 11 (8 devices, 400 ops, after the fix above): two workers each
// deleted a different line of a required narrative (a pathway plan's
// young_person_agreement); the line merge applied both deletions, the merged
// record was empty there and the server refused the second worker's edit as
// invalid — nothing either of them wrote was invalid. Now that field becomes a
// conflict with both wordings, and nothing is refused.
TEST(SimRegressTest, MergeThatBreaksARuleBecomesAConflict) {
  ASSERT_TRUE(Initialize().ok());
  TempDir tmp;
  Env env = RealEnv();
  e2e::LiveServer live;
  ASSERT_NO_FATAL_FAILURE(live.Start(tmp.path(), env));
  sync::ServerCore& core = live.core();
  std::vector<std::unique_ptr<core::Store>> devices;
  for (const char* who : {"adviser-1", "manager-1"}) {
    auto store = live.NewDevice(tmp.File(std::string(who) + ".db"), who,
                                std::string(who) == "manager-1" ? "manager" : "personal_adviser");
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(core.Assign(who, "S-1").ok());
    devices.push_back(std::move(store));
  }
  core::Store& a = *devices[0];
  core::Store& b = *devices[1];
  auto fields = core::SampleFields("pathway_plan", env.clock->NowMillis());
  fields["young_person_agreement"] = "Young Person F agreed the plan.\nYoung Person F signed it.\n";
  auto added = a.Add("pathway_plan", "S-1", fields, "final");
  ASSERT_TRUE(added.ok() && added->saved());
  const std::string id = added->record.id;
  ASSERT_TRUE(sync::RunSync(a, env, {}).ok());
  ASSERT_TRUE(sync::RunSync(b, env, {}).ok());
  ASSERT_TRUE(a.Edit(id, {{"young_person_agreement", "Young Person F signed it.\n"}}, std::nullopt)->saved());
  ASSERT_TRUE(b.Edit(id, {{"young_person_agreement", "Young Person F agreed the plan.\n"}}, std::nullopt)->saved());
  ASSERT_TRUE(sync::RunSync(a, env, {}).ok());
  auto r = sync::RunSync(b, env, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rejected, 0);
  EXPECT_EQ(b.GetStatus()->rejected, 0);
  auto open = core.Conflicts(true);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].info.path, "young_person_agreement");
  EXPECT_EQ((*open)[0].info.server, "Young Person F signed it.\n");
  EXPECT_EQ((*open)[0].info.device, "Young Person F agreed the plan.\n");
  ASSERT_TRUE(sync::RunSync(a, env, {}).ok());
  EXPECT_EQ(a.Get(id)->fields, b.Get(id)->fields);
  EXPECT_EQ(a.Get(id)->fields["young_person_agreement"], "Young Person F signed it.\n");
}

}  // namespace
}  // namespace doorstep::e2e
