// Fault and property tests of sync against a real SyncServer on 127.0.0.1:
// a loopback proxy cuts sessions at random byte offsets during push and pull
// (retries must converge with no duplicate revision and no lost mutation),
// and random caseloads/roles check that no device ever holds another
// practitioner's out-of-scope record.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "doorstep/core/crypto.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/key_pair.h"
#include "doorstep/sync/server_core.h"
#include "doorstep/sync/server_store.h"
#include "doorstep/sync/sync_server.h"
#include "e2e/cut_proxy.h"
#include "e2e/e2e_util.h"
#include "e2e/live_server.h"

namespace doorstep {
namespace {

namespace fs = std::filesystem;
using core::Store;
using e2e::CutDirection;
using e2e::CutProxy;

class SyncFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Initialize().ok());
    env_ = RealEnv();
    ASSERT_NO_FATAL_FAILURE(live_.Start(dir_.path(), env_));
    core_ = &live_.core();
    address_ = live_.address();
    server_key_hex_ = live_.key_hex();
  }
  void TearDown() override {
    proxy_.reset();
    live_.Stop();
  }

  // A device enrolled for `practitioner` with `role` at `address` (the
  // server's, or the proxy's: the enrolment stores it for later syncs).
  std::unique_ptr<Store> Device(const std::string& name, const std::string& practitioner, const std::string& role,
                                const std::string& address) {
    return live_.NewDevice(dir_.File(name + ".db"), practitioner, role, address);
  }

  sync::SyncReport Sync(Store& s) {
    auto r = sync::RunSync(s, env_, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : sync::SyncReport{};
  }

  e2e::TempDir dir_;
  Env env_;
  e2e::LiveServer live_;
  sync::ServerCore* core_ = nullptr;  // live_'s
  std::string address_, server_key_hex_;
  std::unique_ptr<CutProxy> proxy_;
};

TEST_F(SyncFaultsTest, CutsDuringPushAndPullConvergeWithoutDuplicatesOrLoss) {
  constexpr int kRecords = 30;
  constexpr int kRounds = 50;
  std::mt19937 rng(20261125);
  proxy_ = std::make_unique<CutProxy>(live_.port());
  ASSERT_TRUE(proxy_->ok());
  const std::string via_proxy = "127.0.0.1:" + std::to_string(proxy_->port());
  // Edits per record id, over every device: the bound on its revision.
  std::map<std::string, int64_t> edits;
  auto add = [&](Store& s, int i) {
    auto f = core::SampleFields("visit_note", env_.clock->NowMillis());
    f["location"] = "Place " + std::to_string(i);
    auto r = s.Add("visit_note", "subject-A", f, "draft");
    EXPECT_TRUE(r.ok() && r->saved());
    if (!r.ok() || !r->saved()) return std::string();
    edits[r->record.id] = 1;
    return r->record.id;
  };
  auto edit = [&](Store& s, const std::string& id, int n) {
    auto r = s.Edit(id, {{"location", "Edited " + std::to_string(n)}}, std::nullopt);
    EXPECT_TRUE(r.ok() && r->saved());
    if (r.ok() && r->saved()) ++edits[id];
  };

  // Measure what a full push and a full pull of kRecords records cost on the
  // wire: C pushes kRecords records, D pulls them, both through the proxy.
  auto c = Device("c", "worker-3", "social_worker", via_proxy);
  auto d = Device("d", "worker-4", "social_worker", via_proxy);
  auto a = Device("a", "worker-1", "social_worker", via_proxy);
  // Practitioners exist once enrolled; then they get the case.
  for (const char* p : {"worker-1", "worker-3", "worker-4"}) {
    ASSERT_TRUE(core_->Assign(p, "subject-A").ok());
  }
  for (int i = 0; i < kRecords; ++i) add(*c, 1000 + i);
  proxy_->ResetCounters();
  Sync(*c);
  const uint64_t push_bytes = proxy_->to_server();
  proxy_->ResetCounters();
  EXPECT_EQ(Sync(*d).pulled, kRecords);
  const uint64_t pull_bytes = proxy_->to_device();
  ASSERT_GT(push_bytes, 1000u);
  ASSERT_GT(pull_bytes, 1000u);

  // A works offline: kRecords records, some edited twice. Its first pull
  // brings C's records, so both directions carry real data under the cuts.
  std::vector<std::string> mine;
  for (int i = 0; i < kRecords; ++i) mine.push_back(add(*a, i));
  for (int i = 0; i < kRecords; i += 3) edit(*a, mine[i], i);
  int successes = 0, failures = 0;
  for (int round = 0; round < kRounds; ++round) {
    bool push = round % 2 == 0;
    uint64_t span = push ? push_bytes : pull_bytes;
    uint64_t k = std::uniform_int_distribution<uint64_t>(0, span)(rng);
    proxy_->Arm(push ? CutDirection::kToServer : CutDirection::kToDevice, k);
    auto r = sync::RunSync(*a, env_, {});
    if (r.ok()) {
      ++successes;
    } else {
      ++failures;
      StatusCode code = r.status().code();
      EXPECT_TRUE(code == StatusCode::kUnavailable || code == StatusCode::kAborted)
          << "round " << round << " cut at " << k << ": " << r.status().ToString();
    }
    // Sometimes a new local edit, and sometimes another device's new record
    // for A to pull (written via the server directly, never cut).
    int what = std::uniform_int_distribution<int>(0, 3)(rng);
    if (what == 0) edit(*a, mine[std::uniform_int_distribution<size_t>(0, mine.size() - 1)(rng)], 100 + round);
    if (what == 1) mine.push_back(add(*a, 100 + round));
    if (what == 2) {
      add(*c, 2000 + round);
      proxy_->Disarm();
      Sync(*c);
    }
  }
  EXPECT_GT(failures, 0);
  proxy_->Disarm();
  for (int i = 0; i < 5; ++i) {
    Sync(*a);
    if (a->GetStatus()->pending == 0) break;
  }
  auto st = a->GetStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending, 0);
  EXPECT_EQ(st->rejected, 0);
  EXPECT_EQ(st->open_conflicts, 0);

  // B has the same caseload and syncs with the server directly.
  auto b = Device("b", "worker-2", "social_worker", address_);
  ASSERT_TRUE(core_->Assign("worker-2", "subject-A").ok());
  Sync(*b);
  auto la = a->List({});
  auto lb = b->List({});
  ASSERT_TRUE(la.ok() && lb.ok());
  EXPECT_EQ(la->size(), edits.size());  // every record of every device, none lost
  EXPECT_EQ(lb->size(), edits.size());
  std::map<std::string, core::Record> on_b;
  for (const auto& r : *lb) on_b[r.id] = r;
  for (const auto& r : *la) {
    auto it = on_b.find(r.id);
    ASSERT_NE(it, on_b.end()) << "record missing on B";
    EXPECT_EQ(r.fields, it->second.fields) << r.id;
    EXPECT_EQ(r.rev, it->second.rev) << r.id;
    EXPECT_EQ(r.status, it->second.status) << r.id;
    ASSERT_TRUE(edits.count(r.id)) << r.id;
    EXPECT_GE(r.rev, 1) << r.id;
    EXPECT_LE(r.rev, edits[r.id]) << "duplicate revision of " << r.id;
  }
  auto conflicts = core_->Conflicts(true);
  ASSERT_TRUE(conflicts.ok());
  EXPECT_EQ(conflicts->size(), 0u);
  auto audit = core_->VerifyAudit();
  EXPECT_TRUE(audit.ok()) << audit.status().ToString();
  RecordProperty("cut_failures", failures);
  RecordProperty("cut_successes", successes);
}

TEST_F(SyncFaultsTest, NoDeviceHoldsARecordOutsideItsCaseload) {
  const std::vector<std::string> roles = {"social_worker", "personal_adviser", "virtual_school", "manager"};
  const std::vector<std::string> types = {"visit_note", "return_home_interview", "pep_update", "pathway_plan"};
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    struct Practitioner {
      std::string id, role;
      std::set<std::string> caseload;
      std::unique_ptr<Store> device;
      std::set<std::string> written;  // record ids this device wrote
      int64_t bad_writes = 0;         // outside role or caseload
    };
    std::vector<Practitioner> ps(5);
    std::set<std::string> permitted;  // ids of writes inside role and caseload
    for (size_t i = 0; i < ps.size(); ++i) {
      auto& p = ps[i];
      p.id = "s" + std::to_string(seed) + "-worker-" + std::to_string(i);
      p.role = roles[std::uniform_int_distribution<size_t>(0, roles.size() - 1)(rng)];
      p.device = Device("s" + std::to_string(seed) + "-dev-" + std::to_string(i), p.id, p.role, address_);
      ASSERT_NE(p.device, nullptr);
      for (int s = 0; s < 8; ++s) {
        std::string subject = "s" + std::to_string(seed) + "-subject-" + std::to_string(s);
        if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {
          ASSERT_TRUE(core_->Assign(p.id, subject).ok());
          p.caseload.insert(subject);
        }
      }
    }
    for (auto& p : ps) {
      int n = std::uniform_int_distribution<int>(3, 8)(rng);
      for (int j = 0; j < n; ++j) {
        const std::string& type = types[std::uniform_int_distribution<size_t>(0, types.size() - 1)(rng)];
        std::string subject =
            "s" + std::to_string(seed) + "-subject-" + std::to_string(std::uniform_int_distribution<int>(0, 7)(rng));
        auto r = p.device->Add(type, subject, core::SampleFields(type, env_.clock->NowMillis()), "draft");
        ASSERT_TRUE(r.ok() && r->saved());
        p.written.insert(r->record.id);
        if (!sync::RoleMayWrite(p.role, type) || !p.caseload.count(subject)) {
          ++p.bad_writes;
        } else {
          permitted.insert(r->record.id);
        }
      }
    }
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& p : ps) Sync(*p.device);
    }
    for (auto& p : ps) {
      SCOPED_TRACE(p.id + " (" + p.role + ")");
      auto list = p.device->List({});
      ASSERT_TRUE(list.ok());
      for (const auto& r : *list) {
        if (!p.written.count(r.id)) {
          EXPECT_TRUE(permitted.count(r.id)) << "device received a refused write of " << r.subject_id;
        }
        if (p.caseload.count(r.subject_id)) continue;
        // Only its own refused writes may stay on a device outside its caseload.
        EXPECT_TRUE(p.written.count(r.id)) << "device holds another's record of " << r.subject_id;
      }
      auto st = p.device->GetStatus();
      ASSERT_TRUE(st.ok());
      EXPECT_EQ(st->pending, 0);
      EXPECT_EQ(st->rejected, p.bad_writes);
    }
  }
}

}  // namespace
}  // namespace doorstep
