// SyncClient: the session over an open channel (hello → push → pull → bye).
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "client_convert.h"
#include "client_session_internal.h"
#include "doorstep/core/store_sync.h"
#include "doorstep/sync/client.h"
#include "doorstep/sync/protocol.h"
#include "pull_read_internal.h"

namespace doorstep::sync {
namespace {

bool Cancelled(const SyncOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

void Report(const SyncOptions& o, const char* phase, int64_t done, int64_t total) {
  if (o.progress) o.progress(SyncProgress{phase, done, total});
}

// The session's device writes (acks, pulled batches, the last-sync time)
// share one store batch, so a session costs one commit (one fsync) instead of
// one per applied message. Each Apply* call still commits or rolls back as a
// whole inside it (a savepoint). The batch opens at the first write and is
// committed when the session ends, well or not: a cut connection keeps every
// message already applied, exactly as per-message commits did (only a crash
// of the device process loses them, and the next session redoes them: pushes
// are answered again by mutation id, pulls resume from the committed
// checkpoint). A long pull commits every kCommitEveryRecords records.
// These commits do not wait for the disk (core::BeginBatchUnsynced): all of
// it is the server's to give back, so a power cut that rolls them back costs
// a replay, never a word (docs/sync.md, "Device commits"). A pulled batch
// that purges goes in a durable batch of its own: a purged child's records
// must not come back after a power cut.
class SessionWrites {
 public:
  explicit SessionWrites(core::Store& store) : store_(store) {}
  ~SessionWrites() { (void)Commit(); }
  SessionWrites(const SessionWrites&) = delete;
  SessionWrites& operator=(const SessionWrites&) = delete;

  // Opens the batch if it is not open: unsynced, or `durable` (an open
  // unsynced batch is committed first, so the durable one holds only what
  // comes after). A batch the caller already opened is joined (and left for
  // the caller to commit).
  Status Begin(bool durable = false) {
    if (open_ && durable && !durable_) DS_RETURN_IF_ERROR(Commit());
    if (open_ || joined_) return Status::Ok();
    durable_ = durable;
    Status s = durable ? store_.BeginBatch() : core::BeginBatchUnsynced(store_);
    if (s.code() == StatusCode::kFailedPrecondition) {
      joined_ = true;
      return Status::Ok();
    }
    DS_RETURN_IF_ERROR(s);
    open_ = true;
    return Status::Ok();
  }
  bool open() const { return open_ || joined_; }
  Status Commit() {
    if (!open_) return Status::Ok();
    open_ = false;
    return store_.CommitBatch();
  }

 private:
  core::Store& store_;
  bool open_ = false;
  bool joined_ = false;
  bool durable_ = false;  // the open batch commits with synchronous=FULL
};

constexpr int64_t kCommitEveryRecords = 10000;

// Pulled batch sizes ramp up: the first batch is small, each next one asks
// for kPullRamp times as many, up to SyncOptions::pull_batch. While the
// server builds the first batch the device has nothing to do; a small one
// arrives sooner, and the server builds each next (bigger) batch while the
// device applies the one before (the device's apply is the slower side).
// A sync of up to kFirstPullRecords changes is one batch as before.
constexpr size_t kFirstPullRecords = 250;
constexpr size_t kPullRamp = 2;

size_t FirstPullSize(const SyncOptions& o) { return std::min(o.pull_batch, kFirstPullRecords); }
size_t NextPullSize(const SyncOptions& o, size_t last) { return std::min(o.pull_batch, last * kPullRamp); }

template <typename T>
Result<T> Expect(MessageChannel& ch) {
  DS_ASSIGN_OR_RETURN(std::string bytes, ch.Receive());
  // Batches are read straight from their CBOR (pull_read_internal.h).
  DS_ASSIGN_OR_RETURN(Message msg, internal::DecodeServerMessage(bytes));
  if (T* t = std::get_if<T>(&msg)) return std::move(*t);
  if (const Error* e = std::get_if<Error>(&msg)) return StatusFromWireError(*e);
  return InvalidArgumentError(std::string("server sent '") + MessageTypeName(msg) + "' out of turn");
}

// Applies `b` (its records are moved out). The checkpoint stored is
// `checkpoint` (the batch's, or the session's start: see RunSessionThen).
Status ApplyBatch(core::Store& store, SessionWrites& writes, Batch& b, uint64_t checkpoint, SyncReport* report) {
  DS_RETURN_IF_ERROR(writes.Begin(/*durable=*/!b.purge.empty()));
  std::vector<core::Record> records;
  records.reserve(b.records.size());
  for (PulledRecord& p : b.records) records.push_back(ToCoreRecord(std::move(p)));
  std::vector<core::PulledConflict> conflicts;
  for (const ConflictInfo& c : b.conflicts) conflicts.push_back(ToCoreConflict(c));
  DS_ASSIGN_OR_RETURN(core::PullOutcome out,
                      core::ApplyPulledBatch(store, std::move(records), conflicts, b.purge, static_cast<int64_t>(checkpoint)));
  report->pulled += out.records;
  report->conflicts += out.conflicts;
  report->purged += out.purged;
  return Status::Ok();
}

// Pulls until the server says there is no more. The next batch is asked for
// before the current one is applied, so the server builds it while the
// device applies and commits this one. Batches are applied here, in order:
// a worker thread that applied one batch while this thread received the next
// made the first sync of 10,000 records slower on 2 shared cores (9.6-10.6k
// records/s against 13.5-13.9k, same load). The device's checkpoint still
// moves only with a committed batch (a cut loses at most the batches not yet
// committed: see SessionWrites).
// An empty batch that leaves the checkpoint where it is (a no-op sync) is
// not written to the store. `pull_sent`: the first pull went out already.
// `keep_checkpoint`: the stored checkpoint stays at `since` (the batches are
// applied, and the next session pulls them again).
Status PullLoop(core::Store& store, SessionWrites& writes, MessageChannel& ch, const SyncOptions& o,
                SyncReport* report, std::optional<Batch> first, uint64_t since, bool pull_sent,
                bool keep_checkpoint) {
  const uint64_t start = since;
  int64_t done = 0, uncommitted = 0;
  size_t asked = FirstPullSize(o);  // the size the last pull asked for
  Report(o, "pull", 0, 0);
  if (!first && !pull_sent) {
    if (Cancelled(o)) return AbortedError("sync cancelled");
    DS_ASSIGN_OR_RETURN(since, core::Checkpoint(store));
    DS_RETURN_IF_ERROR(ch.Send(Encode(Pull{since, FirstPullSize(o)})));
    ++report->round_trips;
  }
  while (true) {
    Batch b;
    if (first) {
      b = std::move(*first);
      first.reset();
    } else {
      DS_ASSIGN_OR_RETURN(b, Expect<Batch>(ch));
    }
    const bool cancelled = Cancelled(o);
    if (b.more && !cancelled) {
      asked = NextPullSize(o, asked);
      DS_RETURN_IF_ERROR(ch.Send(Encode(Pull{b.checkpoint, asked})));
      ++report->round_trips;
    }
    const int64_t n = static_cast<int64_t>(b.records.size());
    if (!b.records.empty() || !b.conflicts.empty() || !b.purge.empty() || b.checkpoint != since) {
      since = b.checkpoint;
      // Its records move into the store.
      DS_RETURN_IF_ERROR(ApplyBatch(store, writes, b, keep_checkpoint ? start : b.checkpoint, report));
      uncommitted += n;
      if (uncommitted >= kCommitEveryRecords) {
        DS_RETURN_IF_ERROR(writes.Commit());
        uncommitted = 0;
      }
    }
    done += n;
    Report(o, "pull", done, b.more ? done + static_cast<int64_t>(o.pull_batch) : done);
    if (!b.more) return Status::Ok();
    if (cancelled) return AbortedError("sync cancelled");
  }
}

// One push message: its mutations and their encoding.
struct OutgoingPush {
  Push push;
  std::string bytes;
};

// The records pushed and not yet answered, by mutation id: each as
// PendingMutations read it, so that recording its revision after an applied
// answer (core::RecordPushedRevisions, in AckPush) need not open and parse
// the version again. Only the unanswered messages' records are held (at
// most kPushWindow messages).
struct KeptRecord {
  std::shared_ptr<const core::Record> record;
  int64_t version = 0;
};
struct PushedRecords {
  std::unordered_map<std::string, KeptRecord> by_mutation;
};

// Splits pending mutations into push messages of at most `per_message`
// mutations, each under the wire's byte cap. Each message is encoded once;
// only a message over the cap is split by the size of each mutation (a
// single huge mutation goes alone).
// The mutations move out of `pending`; their records go to `kept`.
std::vector<OutgoingPush> SplitPushes(std::vector<core::OutgoingMutation>& pending, size_t per_message,
                                      PushedRecords* kept) {
  constexpr size_t kCap = kMaxPushBytes * 3 / 4;
  std::vector<OutgoingPush> out;
  for (size_t at = 0; at < pending.size(); at += per_message) {
    OutgoingPush chunk;
    for (size_t i = at; i < std::min(pending.size(), at + per_message); ++i) {
      core::OutgoingMutation& m = pending[i];
      chunk.push.m.push_back(ToWireMutation(m));
      kept->by_mutation[m.mutation_id] =
          KeptRecord{std::make_shared<const core::Record>(std::move(m.record)), m.version};
    }
    chunk.bytes = Encode(chunk.push);
    if (chunk.bytes.size() <= kCap) {
      out.push_back(std::move(chunk));
      continue;
    }
    std::vector<OutgoingPush> parts;
    size_t bytes = 0;
    for (Mutation& wire : chunk.push.m) {
      size_t size = Encode(Push{{wire}}).size();
      if (parts.empty() || (!parts.back().push.m.empty() && bytes + size > kCap)) {
        parts.emplace_back();
        bytes = 0;
      }
      bytes += size;
      parts.back().push.m.push_back(std::move(wire));
    }
    for (OutgoingPush& part : parts) {
      part.bytes = Encode(part.push);
      out.push_back(std::move(part));
    }
  }
  return out;
}

// Applies the server's answer to one push message, then records the
// revisions it says this device holds (an applied put whose revision is the
// pushed record: MutationResult::server_received_at) with
// core::RecordPushedRevisions — at once, while the server applies the later
// messages, and before any pulled batch (the server leaves these revisions
// out of the session's pulls: PullCursor::held). Per record, the answer's
// last word counts: a later change of the record in the same message has
// left the queue with this ack, so recording the earlier one would show the
// record without it; a later change in a later message is still queued, so
// the recorded revision carries it on top, as a pull of it would. A revision
// not recorded sets *missed: the session then keeps the checkpoint where it
// found it, and the next session's pull (which leaves nothing out) brings it.
Status AckPush(core::Store& store, SessionWrites& writes, const Push& push, const Pushed& pushed,
               PushedRecords* kept, bool* missed, SyncReport* report) {
  std::unordered_map<std::string_view, std::string_view> sent;  // mutation id → record id
  for (const Mutation& m : push.m) sent.emplace(m.mutation_id, m.record_id);
  std::vector<core::MutationAck> acks;
  acks.reserve(pushed.r.size());
  for (const MutationResult& r : pushed.r) {
    if (sent.count(r.id) == 0) return InvalidArgumentError("server answered a mutation that was not pushed");
    core::MutationAck a;
    a.mutation_id = r.id;
    a.outcome = OutcomeName(r.outcome);
    a.rev = r.rev;
    a.reason = r.reason;
    a.server_received_at = r.outcome == Outcome::kApplied ? r.server_received_at : 0;
    if (r.outcome == Outcome::kRejected) {
      ++report->rejected;
      for (const Problem& p : r.problems) a.reason += "; " + p.path + ": " + p.message;
    } else {
      ++report->pushed;
    }
    acks.push_back(std::move(a));
  }
  if (acks.size() != push.m.size()) return InvalidArgumentError("server did not answer every mutation");
  DS_RETURN_IF_ERROR(writes.Begin());
  std::vector<core::PushedRevision> revisions;
  DS_RETURN_IF_ERROR(core::ApplyPushAcks(store, acks, &revisions));
  // In answer order, as the server counts them: a later answer about a
  // record replaces what an earlier one said.
  std::unordered_map<std::string_view, core::PushedRevision*> by_mutation;
  for (core::PushedRevision& p : revisions) by_mutation.emplace(p.mutation_id, &p);
  std::map<std::string, core::PushedRevision> held;  // record id → its revision
  for (const core::MutationAck& a : acks) {
    const std::string record(sent[a.mutation_id]);
    auto p = a.server_received_at != 0 ? by_mutation.find(a.mutation_id) : by_mutation.end();
    if (p == by_mutation.end()) {
      held.erase(record);
    } else {
      core::PushedRevision rev = *p->second;  // a copy: the map's keys view these
      rev.record_id = record;
      if (auto k = kept->by_mutation.find(a.mutation_id); k != kept->by_mutation.end()) {
        rev.record = std::move(k->second.record);
        rev.record_version = k->second.version;
      }
      held[record] = std::move(rev);
    }
  }
  for (const Mutation& m : push.m) kept->by_mutation.erase(m.mutation_id);  // answered
  if (held.empty()) return Status::Ok();
  std::vector<core::PushedRevision> record;
  record.reserve(held.size());
  for (auto& [id, rev] : held) record.push_back(std::move(rev));
  DS_ASSIGN_OR_RETURN(int64_t not_recorded, core::RecordPushedRevisions(store, record));
  if (not_recorded > 0) *missed = true;
  return Status::Ok();
}

// Push messages in flight at once: the device reads and encodes the next
// messages and applies acks while the server applies the earlier ones.
constexpr size_t kPushWindow = 4;

}  // namespace

Result<SyncReport> RunSession(core::Store& store, MessageChannel& ch, const SyncOptions& options) {
  return RunSessionThen(store, ch, options, nullptr);
}

Result<SyncReport> RunSessionThen(core::Store& store, MessageChannel& ch, const SyncOptions& options,
                                  const std::function<Status(bool in_batch)>& finish) {
  SessionWrites writes(store);
  SyncOptions o = options;
  o.push_batch = std::clamp<size_t>(o.push_batch, 1, kMaxMutationsPerPush);
  o.first_push_batch = std::clamp<size_t>(o.first_push_batch, 1, o.push_batch);
  o.pull_batch = std::clamp<size_t>(o.pull_batch, 1, kMaxRecordsPerBatch);
  SyncReport report;
  DS_ASSIGN_OR_RETURN(core::StoreStatus st, store.GetStatus());
  Hello hello;
  hello.since = static_cast<uint64_t>(st.checkpoint);
  hello.pending = static_cast<uint64_t>(st.pending);
  hello.pull = st.pending == 0;  // nothing to push: one round trip
  hello.max = FirstPullSize(o);
  hello.records_pushed = true;  // RecordPushedRevisions below
  DS_RETURN_IF_ERROR(ch.Send(Encode(hello)));
  ++report.round_trips;
  DS_ASSIGN_OR_RETURN(Welcome welcome, Expect<Welcome>(ch));
  if (welcome.v != kProtocolVersion) {
    return FailedPreconditionError("server speaks protocol " + std::to_string(welcome.v));
  }

  std::optional<Batch> first;
  bool pull_sent = false;
  PushedRecords kept;
  bool keep_checkpoint = false;  // a held revision was not recorded (AckPush)
  if (hello.pull) {
    DS_ASSIGN_OR_RETURN(Batch b, Expect<Batch>(ch));
    first.emplace(std::move(b));
  } else {
    // Push everything pending, in order, before any pull (and so before any
    // purge). The server applies messages in the order sent, each atomically.
    // The queue is read a message at a time and each message sent before the
    // next is read, so the server applies one while the device reads the
    // next (up to kPushWindow unanswered); the first messages are small
    // (SyncOptions::first_push_batch, doubling up to push_batch) so that the
    // server starts at once. When the queue is read to its end, the pull goes out
    // right behind the pushes, so the server builds the batch (after the
    // pushes commit: it answers in message order) while the device applies
    // the acks.
    int64_t total = st.pending, done = 0;
    Report(o, "push", 0, total);
    std::deque<OutgoingPush> in_flight;
    int64_t after = 0;  // the queue is read up to this mutation's seq
    size_t next = o.first_push_batch;
    bool read_all = false;
    while (true) {
      while (!read_all && in_flight.size() < kPushWindow) {
        if (Cancelled(o)) return AbortedError("sync cancelled");
        DS_ASSIGN_OR_RETURN(std::vector<core::OutgoingMutation> pending, core::PendingMutations(store, next, after));
        read_all = pending.size() < next;
        if (pending.empty()) break;
        after = pending.back().seq;
        for (OutgoingPush& p : SplitPushes(pending, next, &kept)) {
          DS_RETURN_IF_ERROR(ch.Send(p.bytes));
          ++report.round_trips;
          std::string().swap(p.bytes);
          in_flight.push_back(std::move(p));
        }
        next = std::min(o.push_batch, next * 2);
      }
      if (read_all && !pull_sent) {
        DS_RETURN_IF_ERROR(ch.Send(Encode(Pull{hello.since, FirstPullSize(o)})));
        ++report.round_trips;
        pull_sent = true;
      }
      if (in_flight.empty()) break;
      DS_ASSIGN_OR_RETURN(Pushed pushed, Expect<Pushed>(ch));
      DS_RETURN_IF_ERROR(AckPush(store, writes, in_flight.front().push, pushed, &kept, &keep_checkpoint, &report));
      done += static_cast<int64_t>(in_flight.front().push.m.size());
      in_flight.pop_front();
      Report(o, "push", done, std::max(total, done));
    }
  }
  DS_RETURN_IF_ERROR(
      PullLoop(store, writes, ch, o, &report, std::move(first), hello.since, pull_sent, keep_checkpoint));
  (void)ch.Send(Encode(Bye{}));
  if (finish) DS_RETURN_IF_ERROR(finish(writes.open()));
  DS_RETURN_IF_ERROR(writes.Commit());
  return report;
}

}  // namespace doorstep::sync
