// ServerCore::ApplyPush: scope checks, exactly-once, merge outcomes,
// conflicts and their resolution, amendments, flags.
#include "server_fixture.h"

namespace doorstep::sync {
namespace {

using json = nlohmann::json;
using testing::ServerFixture;
using testing::ServerFixtureP;

class ServerPushTest : public ServerFixtureP {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    sw_ = Device("worker-1", "social_worker");
    mgr_ = Device("manager-1", "manager");
    ASSERT_TRUE(core_->Assign("worker-1", "S-1").ok());
    ASSERT_TRUE(core_->Assign("manager-1", "S-1").ok());
  }

  // Creates a visit note on S-1 by the social worker; returns its id.
  std::string NewVisit() {
    std::string id = RandomHex();
    MutationResult r = PushOne(sw_, Create(sw_, id, "visit_note", "S-1", Sample("visit_note")));
    EXPECT_EQ(r.outcome, Outcome::kApplied) << r.reason;
    EXPECT_EQ(r.rev, 1);
    return id;
  }

  StoredRecord Head(const std::string& id) {
    auto txn = store_->Begin(TxnMode::kRead);
    auto h = (*txn)->GetHead(id);
    EXPECT_TRUE(h.ok() && h->has_value());
    return h.ok() && h->has_value() ? **h : StoredRecord{};
  }

  SessionContext sw_, mgr_;
};

TEST_P(ServerPushTest, CreateStampsServerFields) {
  clock_.AdvanceMillis(5000);
  std::string id = NewVisit();
  StoredRecord h = Head(id);
  EXPECT_EQ(h.record.author_id, "worker-1");
  EXPECT_EQ(h.record.device_id, sw_.device_id);
  EXPECT_EQ(h.record.server_received_at, clock_.NowMillis());
  EXPECT_EQ(h.record.fields, Sample("visit_note"));
  EXPECT_GT(h.seq, 0u);
}

TEST_P(ServerPushTest, RoleNotPermittedIsRejected) {
  SessionContext vs = Device("vs-1", "virtual_school");
  ASSERT_TRUE(core_->Assign("vs-1", "S-1").ok());
  MutationResult r = PushOne(vs, Create(vs, RandomHex(), "visit_note", "S-1", Sample("visit_note")));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.reason, "not_permitted");
  SessionContext pa = Device("pa-1", "personal_adviser");
  ASSERT_TRUE(core_->Assign("pa-1", "S-1").ok());
  r = PushOne(pa, Create(pa, RandomHex(), "pep_update", "S-1", Sample("pep_update")));
  EXPECT_EQ(r.reason, "not_permitted");
  r = PushOne(pa, Create(pa, RandomHex(), "pathway_plan", "S-1", Sample("pathway_plan")));
  EXPECT_EQ(r.outcome, Outcome::kApplied) << r.reason;
}

TEST_P(ServerPushTest, SubjectOffCaseloadIsRejected) {
  MutationResult r = PushOne(sw_, Create(sw_, RandomHex(), "visit_note", "S-2", Sample("visit_note")));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.reason, "not_on_caseload");
}

TEST_P(ServerPushTest, WrittenBeforeUnassignIsAccepted) {
  Mutation early = Create(sw_, RandomHex(), "visit_note", "S-1", Sample("visit_note"));
  clock_.AdvanceMillis(1000);
  ASSERT_TRUE(core_->Unassign("worker-1", "S-1").ok());
  clock_.AdvanceMillis(1000);
  Mutation late = Create(sw_, RandomHex(), "visit_note", "S-1", Sample("visit_note"));
  auto r = core_->ApplyPush(sw_, Push{{early, late}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->r[0].outcome, Outcome::kApplied) << r->r[0].reason;
  EXPECT_EQ(r->r[1].outcome, Outcome::kRejected);
  EXPECT_EQ(r->r[1].reason, "not_on_caseload");
}

TEST_P(ServerPushTest, InvalidRecordIsRejectedWithProblems) {
  json f = Sample("visit_note");
  f.erase("visit_type");
  MutationResult r = PushOne(sw_, Create(sw_, RandomHex(), "visit_note", "S-1", f));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.reason, "invalid");
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].path, "visit_type");
  r = PushOne(sw_, Create(sw_, RandomHex(), "no_such_type", "S-1", f));
  EXPECT_EQ(r.reason, "invalid");
}

TEST_P(ServerPushTest, ReplayedBatchAppliesExactlyOnce) {
  std::string id = RandomHex();
  Push push{{Create(sw_, id, "visit_note", "S-1", Sample("visit_note")),
             Edit(sw_, id, "visit_note", "S-1", 0, "location", Sample("visit_note")["location"],
                  "School office")}};
  auto first = core_->ApplyPush(sw_, push);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Head(id).record.rev, 2);
  PushStats stats;
  auto again = core_->ApplyPush(sw_, push, &stats);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(stats.replayed, 2u);
  ASSERT_EQ(again->r.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(again->r[i].outcome, first->r[i].outcome);
    EXPECT_EQ(again->r[i].rev, first->r[i].rev);
  }
  EXPECT_EQ(Head(id).record.rev, 2);
  // Rejections are stored too and replay the same.
  Mutation bad = Create(sw_, RandomHex(), "visit_note", "S-9", Sample("visit_note"));
  EXPECT_EQ(PushOne(sw_, bad).reason, "not_on_caseload");
  ASSERT_TRUE(core_->Assign("worker-1", "S-9").ok());
  EXPECT_EQ(PushOne(sw_, bad).reason, "not_on_caseload");
}

TEST_P(ServerPushTest, DifferentFieldsMergeWithoutConflict) {
  std::string id = NewVisit();
  json f = Sample("visit_note");
  MutationResult a = PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "location", f["location"],
                                       "School office"));
  EXPECT_EQ(a.outcome, Outcome::kApplied);
  MutationResult b = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 1, "communication_method",
                                        f["communication_method"], "Makaton"));
  EXPECT_EQ(b.outcome, Outcome::kMerged);
  EXPECT_EQ(b.rev, 3);
  StoredRecord h = Head(id);
  EXPECT_EQ(h.record.fields["location"], "School office");
  EXPECT_EQ(h.record.fields["communication_method"], "Makaton");
  EXPECT_EQ(h.record.author_id, "manager-1");
}

TEST_P(ServerPushTest, NonOverlappingLinesMerge) {
  std::string id = NewVisit();
  std::string base = Sample("visit_note")["observations"];
  // Line 1 edited on one device, line 4 on the other.
  std::string a = base, b = base;
  a.replace(0, a.find('\n'), "The home was warm and clean.");
  size_t l4 = b.rfind('\n', b.size() - 2) + 1;
  b.replace(l4, b.size() - l4, "Child A sat close to Parent B.\n");
  EXPECT_EQ(PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "observations", base, a)).outcome,
            Outcome::kApplied);
  MutationResult r = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 1, "observations", base, b));
  EXPECT_EQ(r.outcome, Outcome::kMerged);
  std::string merged = Head(id).record.fields["observations"];
  EXPECT_NE(merged.find("The home was warm and clean."), std::string::npos);
  EXPECT_NE(merged.find("Child A sat close to Parent B."), std::string::npos);
}

TEST_P(ServerPushTest, OverlappingEditsMakeOneConflictThenResolve) {
  std::string id = NewVisit();
  std::string base = Sample("visit_note")["purpose"];
  std::string server_text = "Unannounced visit after a school referral.\n";
  std::string device_text = "Planned review visit.\n";
  EXPECT_EQ(PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "purpose", base, server_text)).outcome,
            Outcome::kApplied);
  MutationResult r = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 1, "purpose", base, device_text));
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(Head(id).record.fields["purpose"], server_text);  // server value kept provisionally

  auto open = core_->Conflicts(true);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  const ConflictInfo& c = (*open)[0].info;
  EXPECT_EQ(c.conflict_id, r.conflicts[0]);
  EXPECT_EQ(c.path, "purpose");
  EXPECT_EQ(c.base, base);
  EXPECT_EQ(c.server, server_text);
  EXPECT_EQ(c.device, device_text);
  EXPECT_EQ(c.server_author, "worker-1");
  EXPECT_EQ(c.device_author, "manager-1");

  // A further edit of the conflicting value by the same device updates it.
  std::string device_text2 = "Planned review visit (rescheduled).\n";
  MutationResult r2 = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 2, "purpose", device_text,
                                         device_text2));
  EXPECT_EQ(r2.outcome, Outcome::kConflict);
  EXPECT_EQ(r2.conflicts, r.conflicts);
  open = core_->Conflicts(true);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].info.device, device_text2);

  Mutation resolve = Base(mgr_, id, "visit_note", "S-1", 2);
  resolve.kind = MutationKind::kResolve;
  resolve.conflict_id = r.conflicts[0];
  resolve.path = "purpose";
  resolve.value = "Planned review visit after a school referral.\n";
  MutationResult rr = PushOne(mgr_, resolve);
  EXPECT_EQ(rr.outcome, Outcome::kApplied) << rr.reason;
  EXPECT_EQ(Head(id).record.fields["purpose"], resolve.value);
  EXPECT_TRUE(core_->Conflicts(true)->empty());
  auto all = core_->Conflicts(false);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].info.state, ConflictState::kResolved);
  EXPECT_EQ((*all)[0].info.resolution, resolve.value);
  // Resolving again is refused.
  resolve.mutation_id = RandomHex();
  EXPECT_EQ(PushOne(mgr_, resolve).reason, "conflict_closed");
}

// Keeping the server's provisional value changes no field, but the
// resolution is still a revision: the resolving device holds it as a new
// version with its own author and times, and every device must end with the
// same record (envelope included) — by pulling this revision.
TEST_P(ServerPushTest, ResolvingWithTheServersValueIsARevision) {
  std::string id = NewVisit();
  std::string base = Sample("visit_note")["purpose"];
  std::string server_text = "Unannounced visit after a school referral.\n";
  ASSERT_EQ(PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "purpose", base, server_text)).outcome,
            Outcome::kApplied);
  MutationResult r = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 1, "purpose", base, "Planned review.\n"));
  ASSERT_EQ(r.outcome, Outcome::kConflict);
  ASSERT_EQ(r.conflicts.size(), 1u);
  const StoredRecord before = Head(id);

  Mutation resolve = Base(mgr_, id, "visit_note", "S-1", before.record.rev);
  resolve.kind = MutationKind::kResolve;
  resolve.conflict_id = r.conflicts[0];
  resolve.path = "purpose";
  resolve.value = server_text;  // the value the record already carries
  resolve.updated_at = before.record.updated_at + 5000;
  MutationResult rr = PushOne(mgr_, resolve);
  ASSERT_EQ(rr.outcome, Outcome::kApplied) << rr.reason;
  EXPECT_EQ(rr.rev, before.record.rev + 1);
  const StoredRecord after = Head(id);
  EXPECT_EQ(after.record.rev, before.record.rev + 1);
  EXPECT_EQ(after.record.fields, before.record.fields);
  EXPECT_EQ(after.record.author_id, "manager-1");
  EXPECT_EQ(after.record.updated_at, resolve.updated_at);
  EXPECT_EQ(after.mutation_id, resolve.mutation_id);
  EXPECT_TRUE(core_->Conflicts(true)->empty());
}

TEST_P(ServerPushTest, ScalarChangedOnBothSidesConflicts) {
  std::string id = NewVisit();
  EXPECT_EQ(PushOne(sw_, Edit(sw_, id, "visit_note", "S-1", 1, "location", Sample("visit_note")["location"],
                              "Park")).outcome, Outcome::kApplied);
  MutationResult r = PushOne(mgr_, Edit(mgr_, id, "visit_note", "S-1", 1, "location",
                                        Sample("visit_note")["location"], "Library"));
  EXPECT_EQ(r.outcome, Outcome::kConflict);
  EXPECT_EQ(Head(id).record.fields["location"], "Park");
}

TEST_P(ServerPushTest, FinalRecordIsAmendedNotOverwritten) {
  std::string id = RandomHex();
  EXPECT_EQ(PushOne(sw_, Create(sw_, id, "visit_note", "S-1", Sample("visit_note"), "final")).outcome,
            Outcome::kApplied);
  Mutation m = Edit(sw_, id, "visit_note", "S-1", 1, "location", Sample("visit_note")["location"], "Car");
  m.status = "draft";  // cannot demote a final record
  EXPECT_EQ(PushOne(sw_, m).outcome, Outcome::kApplied);
  StoredRecord h = Head(id);
  EXPECT_EQ(h.record.status, "final");
  EXPECT_EQ(h.record.amends, std::optional<int64_t>(1));
  auto txn = store_->Begin(TxnMode::kRead);
  auto old = (*txn)->GetRevision(id, 1);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((**old).record.fields["location"], Sample("visit_note")["location"]);
}

TEST_P(ServerPushTest, FlagsAreRecomputedIncludingDuplicateTerm) {
  json f = Sample("visit_note");
  f["child_seen"] = false;
  f.erase("seen_alone");
  f["not_seen_reason"] = "Child A was at a friend's house.\n";
  Mutation m = Create(sw_, RandomHex(), "visit_note", "S-1", f);
  m.flags = {"made_up_flag"};
  MutationResult r = PushOne(sw_, m);
  ASSERT_EQ(r.outcome, Outcome::kApplied) << r.reason << (r.problems.empty() ? "" : r.problems[0].message);
  EXPECT_EQ(Head(m.record_id).record.flags, std::vector<std::string>{"child_not_seen"});

  std::string p1 = RandomHex(), p2 = RandomHex();
  EXPECT_EQ(PushOne(sw_, Create(sw_, p1, "pep_update", "S-1", Sample("pep_update"))).outcome,
            Outcome::kApplied);
  clock_.AdvanceMillis(1000);
  EXPECT_EQ(PushOne(mgr_, Create(mgr_, p2, "pep_update", "S-1", Sample("pep_update"))).outcome,
            Outcome::kApplied);
  EXPECT_TRUE(Head(p1).record.flags.empty());
  EXPECT_EQ(Head(p2).record.flags, std::vector<std::string>{"duplicate_term"});
}

TEST_P(ServerPushTest, RevokedDeviceCannotPush) {
  ASSERT_TRUE(core_->Revoke(sw_.device_id).ok());
  auto r = core_->ApplyPush(sw_, Push{{Create(sw_, RandomHex(), "visit_note", "S-1", Sample("visit_note"))}});
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

TEST_P(ServerPushTest, BadBaseIsRejected) {
  MutationResult r = PushOne(sw_, Edit(sw_, RandomHex(), "visit_note", "S-1", 3, "location", "a", "b"));
  EXPECT_EQ(r.reason, "bad_base");
}

DOORSTEP_BOTH_BACKENDS(ServerPushTest);

}  // namespace
}  // namespace doorstep::sync
