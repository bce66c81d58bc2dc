// The push queue against a model (store format 4: docs/store.md). Random
// sequences of what a device lives through — adds (one at a time, in a
// batch, AddMany), edits, push answers (in order, out of order, partial,
// repeated, rejected, recorded back), pulls of new and known records,
// purges, reopening — and after every step the queue must be exactly the
// model's: every local change not yet answered, oldest first, read whole
// or a page at a time, with the status counts to match. A change that left
// the queue unanswered would be a lost note; one that stayed after its
// answer would be pushed twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/store_test_base.h"
#include "doorstep/core/samples.h"
#include "doorstep/core/store.h"
#include "doorstep/core/store_sync.h"

namespace doorstep::core {
namespace {

// A queued change: its record and the local version it made.
using Change = std::pair<std::string, int64_t>;

class StoreQueueModelTest : public testing::UnlockedStoreTest, public ::testing::WithParamInterface<int> {
 protected:
  StoreQueueModelTest() : UnlockedStoreTest(/*seed=*/static_cast<uint64_t>(GetParam()) + 100) {}

  void SetUp() override {
    UnlockedStoreTest::SetUp();
    rng_.seed(static_cast<uint32_t>(GetParam()));
  }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }
  std::string Subject() { return "S-" + std::to_string(Pick(3)); }

  void Saved(const Record& r) {
    queue_.emplace_back(r.id, r.local_version);
    subject_[r.id] = r.subject_id;
  }

  void AddOne() {
    clock_.AdvanceMillis(1000);
    auto w = store_->Add("visit_note", Subject(), SampleFields("visit_note", clock_.NowMillis()), "draft");
    ASSERT_TRUE(w.ok() && w->saved()) << w.status().ToString();
    Saved(w->record);
  }

  void AddMany() {
    clock_.AdvanceMillis(1000);
    std::vector<NewRecord> in;
    const size_t n = Chance(50) ? 40 : 3;  // pipelined (a second thread) or not
    for (size_t i = 0; i < n; ++i) {
      in.push_back(NewRecord{"visit_note", Subject(), SampleFields("visit_note", clock_.NowMillis()), "draft"});
    }
    auto w = store_->AddMany(std::move(in));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (const WriteOutcome& o : *w) {
      ASSERT_TRUE(o.saved());
      Saved(o.record);
    }
  }

  void EditOne() {
    if (subject_.empty()) return AddOne();
    auto it = subject_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(Pick(subject_.size())));
    clock_.AdvanceMillis(1000);
    auto e = store_->Edit(it->first, {{"location", "Room " + std::to_string(++edits_)}}, std::nullopt);
    ASSERT_TRUE(e.ok() && e->saved()) << e.status().ToString();
    queue_.emplace_back(e->record.id, e->record.local_version);
  }

  // A push and its answer: the first k mutations are sent; some answers
  // may be lost, come out of order or twice.
  void Push() {
    auto m = PendingMutations(*store_, 1 + Pick(12));
    ASSERT_TRUE(m.ok());
    std::vector<MutationAck> acks;
    std::vector<OutgoingMutation> answered;
    for (const OutgoingMutation& x : *m) {
      if (Chance(15)) continue;  // answer lost
      MutationAck a{x.mutation_id, "applied", 1, ""};
      int r = static_cast<int>(Pick(10));
      if (r == 0) a = {x.mutation_id, "rejected", 0, "not on caseload"};
      if (r == 1) a.outcome = "conflict";
      if (r >= 5) a.server_received_at = clock_.NowMillis();
      acks.push_back(a);
      if (Chance(10)) acks.push_back(a);  // answered twice
      answered.push_back(x);
    }
    if (Chance(30)) std::shuffle(acks.begin(), acks.end(), rng_);
    std::vector<PushedRevision> pushed;
    ASSERT_TRUE(ApplyPushAcks(*store_, acks, &pushed).ok());
    for (const OutgoingMutation& x : answered) {
      Change c{x.record.id, x.record.local_version};
      auto q = std::find(queue_.begin(), queue_.end(), c);
      ASSERT_NE(q, queue_.end()) << "the store pushed a change the model does not hold";
      queue_.erase(q);
    }
    for (const MutationAck& a : acks) {
      if (a.outcome != "rejected") continue;
      for (const OutgoingMutation& x : answered) {
        if (x.mutation_id == a.mutation_id) rejected_.insert({x.mutation_id, x.record.id});
      }
    }
    // The answers' revisions recorded back (docs/sync.md, "No echo").
    for (PushedRevision& p : pushed) {
      for (const OutgoingMutation& x : answered) {
        if (x.mutation_id == p.mutation_id) p.record_id = x.record.id;
      }
    }
    ASSERT_TRUE(RecordPushedRevisions(*store_, pushed).ok());
  }

  // A pull: a record new to the device, and now and then a newer server
  // revision of one it has (its queued local changes stay queued).
  void Pull() {
    clock_.AdvanceMillis(1000);
    std::vector<Record> in;
    char hex[33];
    std::snprintf(hex, sizeof hex, "%032x", ++pulled_);
    in.push_back(testing::PulledVisitNote(hex, Subject(), clock_.NowMillis()));
    if (!subject_.empty() && Chance(50)) {
      auto it = subject_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(Pick(subject_.size())));
      auto cur = store_->Get(it->first);
      ASSERT_TRUE(cur.ok());
      Record s = *cur;
      s.rev = cur->rev + 5;
      s.device_id = std::string(32, 'd');
      s.author_id = "worker-2";
      s.hlc = std::to_string(clock_.NowMillis()) + "-00000001-" + s.device_id;
      s.server_received_at = clock_.NowMillis();
      s.fields["analysis"] = "Server note " + std::to_string(pulled_) + ".\n";
      in.push_back(s);
    }
    auto out = ApplyPulledBatch(*store_, std::move(in), {}, {}, pulled_);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
  }

  // A purge of one subject: its records go, but for those with a rejected
  // change; the queued changes of all of them leave the queue.
  void Purge() {
    const std::string subject = Subject();
    auto out = ApplyPulledBatch(*store_, std::vector<Record>{}, {}, {subject}, pulled_);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    std::set<std::string> kept;
    for (const auto& [mutation, record] : rejected_) kept.insert(record);
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                [&](const Change& c) { return subject_[c.first] == subject; }),
                 queue_.end());
    for (auto it = subject_.begin(); it != subject_.end();) {
      it = it->second == subject && kept.count(it->first) == 0 ? subject_.erase(it) : std::next(it);
    }
  }

  void ExpectQueueIsTheModel(int step) {
    auto all = PendingMutations(*store_, 100000);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    std::vector<Change> got;
    for (const OutgoingMutation& m : *all) got.emplace_back(m.record.id, m.record.local_version);
    ASSERT_EQ(got, queue_) << "step " << step;
    for (size_t i = 1; i < all->size(); ++i) ASSERT_GT((*all)[i].seq, (*all)[i - 1].seq) << "step " << step;
    // A page at a time, as a push reads it.
    std::vector<std::string> paged;
    for (int64_t after = 0;;) {
      auto page = PendingMutations(*store_, 3, after);
      ASSERT_TRUE(page.ok());
      if (page->empty()) break;
      for (const OutgoingMutation& m : *page) paged.push_back(m.mutation_id);
      after = page->back().seq;
    }
    ASSERT_EQ(paged.size(), all->size()) << "step " << step;
    for (size_t i = 0; i < paged.size(); ++i) ASSERT_EQ(paged[i], (*all)[i].mutation_id) << "step " << step;
    auto status = store_->GetStatus();
    ASSERT_TRUE(status.ok());
    ASSERT_EQ(status->pending, static_cast<int64_t>(queue_.size())) << "step " << step;
    ASSERT_EQ(status->rejected, static_cast<int64_t>(rejected_.size())) << "step " << step;
  }

  std::mt19937 rng_;
  std::vector<Change> queue_;                       // the model: queued changes, oldest first
  std::map<std::string, std::string> subject_;      // the device's records and their subjects
  std::set<std::pair<std::string, std::string>> rejected_;  // (mutation id, record id)
  int64_t edits_ = 0;
  int pulled_ = 0;
};

TEST_P(StoreQueueModelTest, TheQueueIsAlwaysEveryUnansweredChangeInOrder) {
  for (int step = 0; step < 160; ++step) {
    int op = static_cast<int>(Pick(100));
    if (op < 20) {
      AddOne();
    } else if (op < 27) {
      AddMany();
    } else if (op < 32) {
      ASSERT_TRUE(store_->BeginBatch().ok());
      AddOne();
      EditOne();
      ASSERT_TRUE(store_->CommitBatch().ok());
    } else if (op < 55) {
      EditOne();
    } else if (op < 75) {
      Push();
    } else if (op < 88) {
      Pull();
    } else if (op < 93) {
      Purge();
    } else {
      store_.reset();
      store_ = OpenUnlocked();
      ASSERT_NE(store_, nullptr);
    }
    if (HasFatalFailure()) return;
    ExpectQueueIsTheModel(step);
    if (HasFatalFailure()) return;
  }
  // Every change answered in the end: the queue empties.
  for (int i = 0; i < 200 && !queue_.empty(); ++i) {
    auto m = PendingMutations(*store_, 50);
    ASSERT_TRUE(m.ok());
    std::vector<MutationAck> acks;
    for (const OutgoingMutation& x : *m) acks.push_back({x.mutation_id, "applied", 1, ""});
    ASSERT_TRUE(ApplyPushAcks(*store_, acks).ok());
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(m->size()));
  }
  ExpectQueueIsTheModel(-1);
  EXPECT_TRUE(queue_.empty());
}

INSTANTIATE_TEST_SUITE_P(Seeds, StoreQueueModelTest, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace doorstep::core
