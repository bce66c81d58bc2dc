// SyncClient: the session over an open channel (hello → push → pull → bye).
#include <algorithm>

#include "client_convert.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/protocol.h"

namespace doorstep::sync {
namespace {

bool Cancelled(const SyncOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

void Report(const SyncOptions& o, const char* phase, int64_t done, int64_t total) {
  if (o.progress) o.progress(SyncProgress{phase, done, total});
}

template <typename T>
Result<T> Expect(MessageChannel& ch) {
  DS_ASSIGN_OR_RETURN(std::string bytes, ch.Receive());
  DS_ASSIGN_OR_RETURN(Message msg, Decode(bytes));
  if (T* t = std::get_if<T>(&msg)) return std::move(*t);
  if (const Error* e = std::get_if<Error>(&msg)) return StatusFromWireError(*e);
  return InvalidArgumentError(std::string("server sent '") + MessageTypeName(msg) + "' out of turn");
}

Status ApplyBatch(core::Store& store, const Batch& b, SyncReport* report) {
  std::vector<core::Record> records;
  records.reserve(b.records.size());
  for (const PulledRecord& p : b.records) records.push_back(ToCoreRecord(p));
  std::vector<core::PulledConflict> conflicts;
  for (const ConflictInfo& c : b.conflicts) conflicts.push_back(ToCoreConflict(c));
  DS_ASSIGN_OR_RETURN(core::PullOutcome out,
                      core::ApplyPulledBatch(store, records, conflicts, b.purge, static_cast<int64_t>(b.checkpoint)));
  report->pulled += out.records;
  report->conflicts += out.conflicts;
  report->purged += out.purged;
  return Status::Ok();
}

Status PullLoop(core::Store& store, MessageChannel& ch, const SyncOptions& o, SyncReport* report,
                std::optional<Batch> first) {
  int64_t done = 0;
  Report(o, "pull", 0, 0);
  while (true) {
    Batch b;
    if (first) {
      b = std::move(*first);
      first.reset();
    } else {
      if (Cancelled(o)) return AbortedError("sync cancelled");
      DS_ASSIGN_OR_RETURN(uint64_t since, core::Checkpoint(store));
      DS_RETURN_IF_ERROR(ch.Send(Encode(Pull{since, o.pull_batch})));
      ++report->round_trips;
      DS_ASSIGN_OR_RETURN(b, Expect<Batch>(ch));
    }
    DS_RETURN_IF_ERROR(ApplyBatch(store, b, report));
    done += static_cast<int64_t>(b.records.size());
    Report(o, "pull", done, b.more ? done + static_cast<int64_t>(o.pull_batch) : done);
    if (!b.more) return Status::Ok();
  }
}

}  // namespace

Result<SyncReport> RunSession(core::Store& store, MessageChannel& ch, const SyncOptions& options) {
  SyncOptions o = options;
  o.push_batch = std::clamp<size_t>(o.push_batch, 1, kMaxMutationsPerPush);
  o.pull_batch = std::clamp<size_t>(o.pull_batch, 1, kMaxRecordsPerBatch);
  SyncReport report;
  DS_ASSIGN_OR_RETURN(core::StoreStatus st, store.GetStatus());
  Hello hello;
  hello.since = static_cast<uint64_t>(st.checkpoint);
  hello.pending = static_cast<uint64_t>(st.pending);
  hello.pull = st.pending == 0;  // nothing to push: one round trip
  hello.max = o.pull_batch;
  DS_RETURN_IF_ERROR(ch.Send(Encode(hello)));
  ++report.round_trips;
  DS_ASSIGN_OR_RETURN(Welcome welcome, Expect<Welcome>(ch));
  if (welcome.v != kProtocolVersion) {
    return FailedPreconditionError("server speaks protocol " + std::to_string(welcome.v));
  }

  std::optional<Batch> first;
  if (hello.pull) {
    DS_ASSIGN_OR_RETURN(Batch b, Expect<Batch>(ch));
    first.emplace(std::move(b));
  } else {
    // Push everything pending, in order, before any pull (and so before any purge).
    int64_t total = st.pending, done = 0;
    Report(o, "push", 0, total);
    for (int rounds = 0; rounds < 100000; ++rounds) {
      if (Cancelled(o)) return AbortedError("sync cancelled");
      DS_ASSIGN_OR_RETURN(std::vector<core::OutgoingMutation> pending, core::PendingMutations(store, o.push_batch));
      if (pending.empty()) break;
      Push push;
      size_t bytes = 0;
      for (const core::OutgoingMutation& m : pending) {
        Mutation wire = ToWireMutation(m);
        // Keep each push under the wire cap (a single huge mutation goes alone).
        size_t size = Encode(Push{{wire}}).size();
        if (!push.m.empty() && bytes + size > kMaxPushBytes * 3 / 4) break;
        bytes += size;
        push.m.push_back(std::move(wire));
      }
      DS_RETURN_IF_ERROR(ch.Send(Encode(push)));
      ++report.round_trips;
      DS_ASSIGN_OR_RETURN(Pushed pushed, Expect<Pushed>(ch));
      std::vector<core::MutationAck> acks;
      for (const MutationResult& r : pushed.r) {
        bool known = std::any_of(push.m.begin(), push.m.end(),
                                 [&](const Mutation& m) { return m.mutation_id == r.id; });
        if (!known) return InvalidArgumentError("server answered a mutation that was not pushed");
        core::MutationAck a{r.id, OutcomeName(r.outcome), r.rev, r.reason};
        if (r.outcome == Outcome::kRejected) {
          ++report.rejected;
          for (const Problem& p : r.problems) a.reason += "; " + p.path + ": " + p.message;
        } else {
          ++report.pushed;
        }
        acks.push_back(std::move(a));
      }
      if (acks.size() != push.m.size()) return InvalidArgumentError("server did not answer every mutation");
      DS_RETURN_IF_ERROR(core::ApplyPushAcks(store, acks));
      done += static_cast<int64_t>(acks.size());
      Report(o, "push", done, std::max(total, done));
    }
  }
  DS_RETURN_IF_ERROR(PullLoop(store, ch, o, &report, std::move(first)));
  (void)ch.Send(Encode(Bye{}));
  return report;
}

}  // namespace doorstep::sync
