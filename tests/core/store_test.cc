#include "doorstep/core/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "doorstep/core/samples.h"
#include "doorstep/core/store_sync.h"
#include "core/store_test_base.h"

namespace doorstep::core {
namespace {

namespace fs = std::filesystem;

class StoreTest : public testing::StoreTestBase {
 protected:
  StoreTest() : StoreTestBase(/*seed=*/7) {}

  std::unique_ptr<Store> Make(const KeySource& key, int max_failed = 10) {
    StoreOptions o;
    o.kdf = KdfProfile::kInteractive;
    o.max_failed_unlocks = max_failed;
    auto s = Store::Create(path_, key, o, env_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  KeySource Pass(const std::string* p) { return KeySource{p, nullptr}; }

  // Runs `sql` on the store file directly (an attacker with the file).
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::string pass_ = "correct horse battery";
};

TEST_F(StoreTest, AddShowEditHistory) {
  auto store = Make(Pass(&pass_));
  ASSERT_NE(store, nullptr);
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto added = store->Add("visit_note", "subject-1", fields, "draft");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  ASSERT_TRUE(added->saved());
  std::string id = added->record.id;
  EXPECT_EQ(id.size(), 32u);

  auto got = store->Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->fields, fields);
  EXPECT_EQ(got->local_version, 1);

  clock_.AdvanceMillis(1000);
  auto edited = store->Edit(id, {{"observations", "Line one.\nLine two.\n"}}, std::nullopt);
  ASSERT_TRUE(edited.ok());
  ASSERT_TRUE(edited->saved());
  auto hist = store->History(id);
  ASSERT_TRUE(hist.ok());
  ASSERT_EQ(hist->size(), 2u);
  EXPECT_EQ((*hist)[0].fields["observations"], fields["observations"]);
  EXPECT_EQ((*hist)[1].fields["observations"], "Line one.\nLine two.\n");
  EXPECT_LT((*hist)[0].hlc, (*hist)[1].hlc);

  auto list = store->List(ListFilter{std::string("subject-1"), std::nullopt});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ(store->List(ListFilter{std::string("other"), std::nullopt})->size(), 0u);
}

// The first 12 hex characters of a record id made by this store: 48 bits
// that count up within an unlocked session.
uint64_t OrderedPart(const std::string& id) { return std::stoull(id.substr(0, 12), nullptr, 16); }

// Record ids made in one session sort in the order they were made (so a
// session's new records go into the records b-tree side by side), whichever
// way they were written (Add, AddMany on one thread or two); their last 80
// bits are not a count (no id is guessed from the one before).
TEST_F(StoreTest, RecordIdsCountUpWithinASession) {
  auto store = Make(Pass(&pass_));
  ASSERT_NE(store, nullptr);
  std::vector<std::string> ids;
  auto add_one = [&] {
    auto w = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
    ASSERT_TRUE(w.ok() && w->saved());
    ids.push_back(w->record.id);
  };
  auto add_many = [&](size_t n) {
    std::vector<NewRecord> batch;
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(NewRecord{"visit_note", "subject-2", SampleFields("visit_note", clock_.NowMillis()), "draft"});
    }
    auto w = store->AddMany(std::move(batch));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (const WriteOutcome& o : *w) {
      ASSERT_TRUE(o.saved());
      ids.push_back(o.record.id);
    }
  };
  add_one();
  add_many(5);    // one thread
  add_many(100);  // two threads
  add_one();
  ASSERT_EQ(ids.size(), 107u);
  std::set<std::string> tails;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(IsRecordId(ids[i])) << ids[i];
    if (i > 0) {
      EXPECT_EQ(OrderedPart(ids[i]), OrderedPart(ids[i - 1]) + 1) << i;
    }
    tails.insert(ids[i].substr(12));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(tails.size(), ids.size()) << "the last 80 bits differ from id to id";
  std::set<uint64_t> steps;  // the tails are not a count either
  for (size_t i = 1; i < ids.size(); ++i) {
    steps.insert(std::stoull(ids[i].substr(16), nullptr, 16) - std::stoull(ids[i - 1].substr(16), nullptr, 16));
  }
  EXPECT_GT(steps.size(), 100u);
}

// Each unlocked session counts from its own random start: ids stay unique
// across sessions, and a session's ids do not carry on from the last one's
// (which would tell how many records the last session made).
TEST_F(StoreTest, EachSessionCountsRecordIdsFromItsOwnRandomStart) {
  std::vector<std::vector<std::string>> sessions;
  auto add_20 = [&](Store& store) {
    sessions.emplace_back();
    for (int i = 0; i < 20; ++i) {
      auto w = store.Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
      ASSERT_TRUE(w.ok() && w->saved());
      sessions.back().push_back(w->record.id);
    }
  };
  {
    auto store = Make(Pass(&pass_));
    ASSERT_NE(store, nullptr);
    add_20(*store);
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto opened = Store::Open(path_, env_);
    ASSERT_TRUE(opened.ok());
    std::unique_ptr<Store> store = std::move(*opened);
    ASSERT_TRUE(store->Unlock(Pass(&pass_)).ok());
    add_20(*store);
    if (reopen == 0) {  // locking ends a session too
      store->Lock();
      ASSERT_TRUE(store->Unlock(Pass(&pass_)).ok());
      add_20(*store);
    }
  }
  ASSERT_EQ(sessions.size(), 4u);
  std::set<std::string> all;
  for (size_t s = 0; s < sessions.size(); ++s) {
    all.insert(sessions[s].begin(), sessions[s].end());
    if (s == 0) continue;
    const uint64_t start = OrderedPart(sessions[s].front());
    const uint64_t last_end = OrderedPart(sessions[s - 1].back());
    EXPECT_NE(start, last_end + 1) << "session " << s << " carries on from the last";
    EXPECT_GT(start > last_end ? start - last_end : last_end - start, 1000000u) << "session " << s;
  }
  EXPECT_EQ(all.size(), 80u);
}

TEST_F(StoreTest, InvalidRecordIsRefusedAndNothingWritten) {
  auto store = Make(Pass(&pass_));
  auto r = store->Add("visit_note", "subject-1", nlohmann::json::object(), "draft");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->saved());
  EXPECT_GT(r->problems.size(), 3u);
  EXPECT_EQ(store->List({})->size(), 0u);
  EXPECT_EQ(store->GetStatus()->pending, 0);
  EXPECT_EQ(store->Add("no_such_type", "s", {}, "draft").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Add("visit_note", "bad subject!", {}, "draft").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, FinalRecordIsAmendedNeverOverwritten) {
  auto store = Make(Pass(&pass_));
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto added = store->Add("visit_note", "subject-1", fields, "final");
  ASSERT_TRUE(added.ok() && added->saved()) << (added.ok() && !added->problems.empty() ? added->problems[0].message : "");
  std::string id = added->record.id;
  EXPECT_EQ(store->Edit(id, {}, std::string("draft")).status().code(), StatusCode::kInvalidArgument);
  auto amended = store->Edit(id, {{"analysis", "Revised analysis.\n"}}, std::nullopt);
  ASSERT_TRUE(amended.ok() && amended->saved());
  EXPECT_EQ(amended->record.status, "final");
  ASSERT_TRUE(amended->record.amends.has_value());
  auto hist = store->History(id);
  ASSERT_EQ(hist->size(), 2u);
  EXPECT_EQ((*hist)[0].fields["analysis"], fields["analysis"]);  // earlier wording kept
}

TEST_F(StoreTest, WrongPassphraseCountsAndCorrectOneResets) {
  { auto store = Make(Pass(&pass_)); }
  auto store = Store::Open(path_, env_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->locked());
  std::string wrong = "wrong";
  EXPECT_EQ((*store)->Unlock(Pass(&wrong)).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ((*store)->failed_unlocks(), 1);
  EXPECT_EQ((*store)->Unlock(Pass(&wrong)).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ((*store)->failed_unlocks(), 2);
  EXPECT_EQ((*store)->Get(std::string(32, 'a')).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*store)->Unlock(Pass(&pass_)).ok());
  EXPECT_EQ((*store)->failed_unlocks(), 0);
}

TEST_F(StoreTest, WipesItselfAfterTheLimit) {
  { auto store = Make(Pass(&pass_), 3); }
  std::string wrong = "wrong";
  for (int i = 0; i < 2; ++i) {
    auto store = Store::Open(path_, env_);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->Unlock(Pass(&wrong)).code(), StatusCode::kUnauthenticated);
  }
  auto store = Store::Open(path_, env_);
  ASSERT_TRUE(store.ok());
  Status s = (*store)->Unlock(Pass(&wrong));
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("wiped"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_FALSE(fs::exists(path_ + "-wal"));
  EXPECT_EQ(Store::Open(path_, env_).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ChangeKeyRewrapsWithoutTouchingRecords) {
  std::string id;
  std::string newpass = "new passphrase";
  {
    auto store = Make(Pass(&pass_));
    auto added = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
    id = added->record.id;
    ASSERT_TRUE(store->ChangeKey(Pass(&pass_), Pass(&newpass)).ok());
  }
  auto store = Store::Open(path_, env_);
  EXPECT_EQ((*store)->Unlock(Pass(&pass_)).code(), StatusCode::kUnauthenticated);
  ASSERT_TRUE((*store)->Unlock(Pass(&newpass)).ok());
  EXPECT_TRUE((*store)->Get(id).ok());
}

TEST_F(StoreTest, KeystoreAndBothModes) {
  SecretBytes ks = RandomKey(random_);
  {
    auto store = Make(KeySource{&pass_, &ks});
    ASSERT_NE(store, nullptr);
  }
  auto store = Store::Open(path_, env_);
  // Neither alone opens it.
  EXPECT_EQ((*store)->Unlock(KeySource{&pass_, nullptr}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Unlock(KeySource{nullptr, &ks}).code(), StatusCode::kInvalidArgument);
  SecretBytes other = RandomKey(random_);
  EXPECT_EQ((*store)->Unlock(KeySource{&pass_, &other}).code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE((*store)->Unlock(KeySource{&pass_, &ks}).ok());
}

TEST_F(StoreTest, CiphertextMovedToAnotherRowIsRefused) {
  auto store = Make(Pass(&pass_));
  auto a = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  auto b = store->Add("visit_note", "subject-2", SampleFields("visit_note", clock_.NowMillis()), "draft");
  std::string ida = a->record.id, idb = b->record.id;
  store.reset();
  // The current version of A's sealed body onto B's current version row.
  RawExec("UPDATE versions SET body=(SELECT body FROM versions WHERE seq=(SELECT head FROM records WHERE id=x'" + ida +
          "')) WHERE seq=(SELECT head FROM records WHERE id=x'" + idb + "')");
  auto reopened = Store::Open(path_, env_);
  ASSERT_TRUE((*reopened)->Unlock(Pass(&pass_)).ok());
  EXPECT_TRUE((*reopened)->Get(ida).ok());
  EXPECT_EQ((*reopened)->Get(idb).status().code(), StatusCode::kDataLoss);
}

TEST_F(StoreTest, TamperedBodyIsDataLoss) {
  auto store = Make(Pass(&pass_));
  auto a = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  std::string id = a->record.id;
  store.reset();
  // Flip one byte in the middle of the sealed body.
  RawExec("UPDATE versions SET body = substr(body, 1, 100) || "
          "CAST(char((unicode(substr(body, 101, 1)) + 1) % 128) AS BLOB) || substr(body, 102) "
          "WHERE seq=(SELECT head FROM records WHERE id=x'" + id + "')");
  auto reopened = Store::Open(path_, env_);
  ASSERT_TRUE((*reopened)->Unlock(Pass(&pass_)).ok());
  EXPECT_EQ((*reopened)->Get(id).status().code(), StatusCode::kDataLoss);
}

TEST_F(StoreTest, NotAStoreIsCorruption) {
  FILE* f = fopen(path_.c_str(), "w");
  fputs("this is not sqlite", f);
  fclose(f);
  EXPECT_EQ(Store::Open(path_, env_).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Store::Open(dir_ + "/missing.db", env_).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, PendingMutationsCarryFromAndTo) {
  auto store = Make(Pass(&pass_));
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto a = store->Add("visit_note", "subject-1", fields, "draft");
  std::string id = a->record.id;
  ASSERT_TRUE(store->Edit(id, {{"location", "Family home (kitchen)"}}, std::nullopt)->saved());
  auto pending = PendingMutations(*store, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].changes["location"]["from"], nullptr);
  EXPECT_EQ((*pending)[1].changes.size(), 1u);
  EXPECT_EQ((*pending)[1].changes["location"]["from"], fields["location"]);
  EXPECT_EQ((*pending)[1].changes["location"]["to"], "Family home (kitchen)");
  EXPECT_EQ(store->GetStatus()->pending, 2);

  ASSERT_TRUE(ApplyPushAcks(*store, {{(*pending)[0].mutation_id, "applied", 1, ""},
                                     {(*pending)[1].mutation_id, "rejected", 0, "not on caseload"}}).ok());
  auto st = store->GetStatus();
  EXPECT_EQ(st->pending, 0);
  EXPECT_EQ(st->rejected, 1);
  EXPECT_EQ(st->rejected_details[0]["reason"], "not on caseload");
}

TEST_F(StoreTest, PulledRecordKeepsUnpushedLocalChangesOnTop) {
  auto store = Make(Pass(&pass_));
  auto fields = SampleFields("visit_note", clock_.NowMillis());
  auto a = store->Add("visit_note", "subject-1", fields, "draft");
  Record server = a->record;
  auto p = PendingMutations(*store, 10);
  ASSERT_TRUE(ApplyPushAcks(*store, {{(*p)[0].mutation_id, "applied", 1, ""}}).ok());
  // A local edit not yet pushed...
  ASSERT_TRUE(store->Edit(server.id, {{"location", "School"}}, std::nullopt)->saved());
  // ...and the server's newer revision changing another field.
  server.rev = 2;
  server.fields["purpose"] = "Statutory visit, updated by a colleague.";
  auto out = ApplyPulledBatch(*store, {server}, {}, {}, 42);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->records, 1);
  auto got = store->Get(server.id);
  EXPECT_EQ(got->rev, 2);
  EXPECT_EQ(got->fields["purpose"], "Statutory visit, updated by a colleague.");
  EXPECT_EQ(got->fields["location"], "School");
  EXPECT_EQ(*Checkpoint(*store), 42);
  // The same batch again changes nothing.
  EXPECT_EQ(ApplyPulledBatch(*store, {server}, {}, {}, 42)->records, 0);
}

TEST_F(StoreTest, PurgeRemovesTheSubjectsRecords) {
  auto store = Make(Pass(&pass_));
  auto a = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  store->Add("visit_note", "subject-2", SampleFields("visit_note", clock_.NowMillis()), "draft").value();
  auto p = PendingMutations(*store, 10);
  ASSERT_TRUE(ApplyPushAcks(*store, {{(*p)[0].mutation_id, "applied", 1, ""},
                                     {(*p)[1].mutation_id, "applied", 1, ""}}).ok());
  auto out = ApplyPulledBatch(*store, {}, {}, {"subject-1"}, 5);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->purged, 1);
  EXPECT_EQ(store->Get(a->record.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->List({})->size(), 1u);
}

TEST_F(StoreTest, ConflictResolutionQueuesAResolveMutation) {
  auto store = Make(Pass(&pass_));
  auto a = store->Add("visit_note", "subject-1", SampleFields("visit_note", clock_.NowMillis()), "draft");
  auto p = PendingMutations(*store, 10);
  ASSERT_TRUE(ApplyPushAcks(*store, {{(*p)[0].mutation_id, "conflict", 1, ""}}).ok());
  PulledConflict c{std::string(32, 'c'), a->record.id, "subject-1", "open",
                   {{"path", "observations"}, {"base", "B\n"}, {"server", "S\n"}, {"device", "D\n"}}};
  ASSERT_TRUE(ApplyPulledBatch(*store, {}, {c}, {}, 3).ok());
  EXPECT_EQ(store->GetStatus()->open_conflicts, 1);
  auto list = ListConflicts(*store, true);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0]["device"], "D\n");
  ASSERT_TRUE(ResolveConflict(*store, c.conflict_id, "device", nullptr).ok());
  EXPECT_EQ(store->Get(a->record.id)->fields["observations"], "D\n");
  auto pending = PendingMutations(*store, 10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].kind, "resolve");
  EXPECT_EQ((*pending)[0].resolve["value"], "D\n");
  EXPECT_EQ(ResolveConflict(*store, c.conflict_id, "server", nullptr).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ResolveConflict(*store, std::string(32, 'd'), "server", nullptr).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace doorstep::core
