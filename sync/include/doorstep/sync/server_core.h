// ServerCore: the sync server's logic, free of networking (docs/sync.md).
// Admin operations (enrolment codes, devices, caseloads, conflicts, audit),
// the handshake's decision on a remote static key, and the session steps:
// hello, push (role and caseload checks, validation, three-way merge,
// conflicts, exactly-once by mutation id) and pull (batches from a fixed
// upper bound, snapshots of newly assigned subjects, purge notices).
//
// Nothing that admin commands change is cached: each call reads the store,
// so `server revoke` or `server unassign` from another process takes effect
// on the next hello, push or pull.
//
// Pushes submitted with SubmitPush are applied by one committer thread
// (started on first use, joined by the destructor after it has drained the
// queue): batches that queued up while the previous commit was running share
// one write transaction and one durable commit (group commit), each answered
// only after that commit.
//
// Ownership: borrows the ServerStore and the Env's members, which must
// outlive it. Thread safety: all methods may be called concurrently from
// any thread (all state, the wrong-code limiter's included, is in the store;
// the push queue has its mutex).
#ifndef DOORSTEP_SYNC_SERVER_CORE_H_
#define DOORSTEP_SYNC_SERVER_CORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/sync/protocol.h"
#include "doorstep/sync/server_store.h"

namespace doorstep::sync {

inline constexpr int64_t kEnrolmentCodeLifetimeMs = 24LL * 60 * 60 * 1000;
inline constexpr size_t kMaxWrongCodesPerMinute = 5;
inline constexpr size_t kDefaultBatchRecords = 1000;
// Further error codes on the wire (see protocol.h for the others).
inline constexpr char kErrEnrolmentRefused[] = "enrolment_refused";
inline constexpr char kErrRateLimited[] = "rate_limited";

// social_worker | personal_adviser | virtual_school | manager.
bool IsValidRole(std::string_view role);
// Whether `role` may write records of `type` (docs/sync.md, "Scope").
bool RoleMayWrite(std::string_view role, std::string_view type);

// Who is at the other end of an authenticated session.
struct SessionContext {
  std::string device_id;
  std::string practitioner_id;
  std::string role;
};

// Per-session state of a pull: its fixed upper bound and where a snapshot
// larger than one batch stopped. Start with {} and pass the same object to
// every Pull of the session.
struct PullCursor {
  uint64_t upto = 0;           // 0 = no pull in progress
  uint64_t resume_since = 0;   // a partial snapshot was cut at ...
  uint64_t resume_position = 0;
  uint64_t resume_offset = 0;  // ... after this many of its records
  // Revisions the device holds already because this session's answer to
  // its push told it so (an applied put answered with server_received_at:
  // the device records that revision itself): record id → {rev, mutation
  // id}. A pull leaves a record out while its head is that very revision,
  // and still moves the checkpoint past it (docs/sync.md, "No echo"). Only
  // the session fills it, and only from answers already sent, so a batch
  // never leaves out what the device was not told.
  struct Held {
    int64_t rev = 0;
    std::string mutation_id;
  };
  std::map<std::string, Held> held;
};

struct IssuedCode {
  std::string code;            // shown once; only its hash is stored
  int64_t expires_at = 0;
};

struct PushStats {             // counts of one ApplyPush, for logs and audit
  size_t applied = 0, merged = 0, conflict = 0, rejected = 0, replayed = 0;
};

// Group commit limits: a transaction takes at most this many queued batches
// and stops adding batches once it holds this many mutations.
inline constexpr size_t kMaxBatchesPerCommit = 64;
inline constexpr size_t kMaxMutationsPerCommit = 4096;
// Admission control: at most this many bytes of pushes (their size on the
// wire) wait for the committer or its commit. A SubmitPush that would go
// past it blocks its caller (a connection's thread, which then reads no
// more) until earlier batches are answered; a push alone in the queue is
// always taken. This bounds the decoded pushes held in memory, which grow
// once nothing else (such as hello's own commits) slows devices down.
inline constexpr size_t kMaxQueuedPushBytes = 512u << 10;

class ServerCore {
 public:
  ServerCore(ServerStore* store, Env env);
  // Applies what is still queued, then stops the committer thread.
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  // ---- admin ----
  // Creates (or updates the role of) the practitioner and issues a one-time
  // code, 16 base32 characters in groups of four ("ABCD-EFGH-JKLM-NPQR"),
  // valid for 24 h. kInvalidArgument for a bad id or role.
  Result<IssuedCode> Enroll(std::string_view practitioner, std::string_view role);
  // Binds a device (its id and static public key) to the code's practitioner.
  // `source` names the peer (its address) for the wrong-code limit.
  // kResourceExhausted after kMaxWrongCodesPerMinute wrong codes from
  // `source` within a minute; kUnauthenticated for an unknown code;
  // kFailedPrecondition for an expired or already used code;
  // kInvalidArgument if the device id or key is already enrolled.
  Result<DeviceInfo> RedeemCode(std::string_view code, std::string_view device_id,
                                std::string_view public_key, std::string_view source);
  // kNotFound for an unknown device. Revoking twice is ok.
  Status Revoke(std::string_view device_id);
  // kInvalidArgument for bad ids; kFailedPrecondition if already (un)assigned.
  Status Assign(std::string_view practitioner, std::string_view subject);
  Status Unassign(std::string_view practitioner, std::string_view subject);
  Result<std::vector<DeviceInfo>> Devices();
  Result<std::vector<StoredConflict>> Conflicts(bool open_only);
  Result<std::vector<AuditEntry>> Audit();
  // Recomputes the hash chain. Ok with the number of entries checked, or
  // kDataLoss naming the first entry that does not check out.
  Result<uint64_t> VerifyAudit();
  // The same check, returning the chain's last entry (id 0 and the genesis
  // hash for an empty log). With `anchor` (an entry's id and hash recorded
  // outside the server earlier, e.g. from `server audit --verify --json`),
  // also kDataLoss if that entry is not in the log with that hash: entries
  // dropped from the end, which the chain alone cannot show, or a rewritten
  // log.
  Result<AuditHead> VerifyAuditAgainst(const std::optional<AuditHead>& anchor);

  // ---- sessions ----
  // The handshake hook: decides on a remote static key (32 bytes) and the
  // payload of the handshake's third message. An enrolled, unrevoked key →
  // its context. A revoked key → kPermissionDenied ("revoked"). An unknown
  // key with an enrolment request → RedeemCode's outcome. An unknown key
  // without one → kUnauthenticated ("not enrolled").
  Result<SessionContext> AuthenticatePeer(std::string_view remote_static,
                                          std::string_view payload, std::string_view source);
  // Answers hello: kFailedPrecondition for an unsupported version (message
  // says which are supported), kPermissionDenied if revoked meanwhile.
  Result<Welcome> Hello(const SessionContext& ctx, const sync::Hello& hello);
  // Hello through the group committer: `done` gets what Hello would return.
  // A device not seen in the last minute has its last_seen_at written in
  // the committer's shared transaction (no commit of its own), and `done`
  // runs on the committer thread once that is durable; otherwise `done`
  // runs at once, on the caller's thread.
  using HelloDone = std::function<void(Result<Welcome>)>;
  void SubmitHello(const SessionContext& ctx, const sync::Hello& hello, HelloDone done);
  // Applies a push batch in one transaction; each mutation is answered
  // once and a replayed mutation id returns its stored result. Fails only
  // for storage errors (kUnavailable: retry) or a revoked device
  // (kPermissionDenied).
  Result<Pushed> ApplyPush(const SessionContext& ctx, const Push& push, PushStats* stats = nullptr);
  // ApplyPush through the group committer: `done` gets exactly what
  // ApplyPush would return, on the committer thread, once the transaction
  // holding this batch is durably committed (or has failed: then nothing of
  // the batch is stored). Batches are applied in submission order; each is
  // atomic. Must not be called after destruction has begun. `wire_bytes`
  // is the push message's size (0: 1 KiB per mutation is assumed); past
  // kMaxQueuedPushBytes queued, the call waits for room (see there), except
  // on the committer thread (from a `done`).
  using PushDone = std::function<void(Result<Pushed>)>;
  void SubmitPush(const SessionContext& ctx, Push push, PushDone done, size_t wire_bytes = 0);
  // Pull whose audit entry ("pull", written before the batch may leave the
  // server) goes through the group committer: reads the batch now, on the
  // caller's thread; `done` gets what Pull would return, on the committer
  // thread once the audit entry is committed (or on the caller's thread when
  // there is nothing to audit or the read failed).
  using PullDone = std::function<void(Result<Batch>)>;
  void SubmitPull(const SessionContext& ctx, PullCursor* cursor, uint64_t since, size_t max,
                  PullDone done);
  // One batch of changes after `since`, at most `max` records (0 = default).
  Result<Batch> Pull(const SessionContext& ctx, PullCursor* cursor, uint64_t since, size_t max);

  Env env() const { return env_; }

 private:
  // True if `source` has used up its wrong-code budget (kept in the store,
  // so shared by every server process on it).
  Result<bool> OverWrongCodeLimit(ServerTxn& txn, std::string_view source, int64_t now);
  // RedeemCode after the cheap limit check: checks the limit again, looks at
  // the code and records a wrong one, in one write transaction.
  Result<DeviceInfo> RedeemChecked(std::string_view code, std::string_view device_id,
                                   std::string_view public_key, std::string_view source, int64_t now);
  Result<DeviceInfo> CheckDevice(ServerTxn& txn, const SessionContext& ctx);
  // Hello's read: the welcome, and *touch = whether last_seen_at is due.
  Result<Welcome> HelloRead(const SessionContext& ctx, const sync::Hello& hello, int64_t now,
                            bool* touch);
  // Hello's write inside an open write transaction: checks the device
  // again and updates its last_seen_at if due.
  Status TouchInTxn(ServerTxn& txn, const SessionContext& ctx, int64_t now);
  // ApplyPush's work inside an open write transaction (not committed).
  Result<Pushed> ApplyPushInTxn(ServerTxn& txn, const SessionContext& ctx, const Push& push,
                                PushStats* stats);
  // Pull's read; sets *audit to the pull's audit details (null if the batch
  // is empty: nothing to audit) and *actor to the device's audit actor.
  Result<Batch> ReadPull(const SessionContext& ctx, PullCursor* cursor, uint64_t since, size_t max,
                         nlohmann::json* audit, std::string* actor);

  // A write for the group committer: `apply` writes inside the shared
  // transaction (it may run twice: again alone if its group failed), `done`
  // gets the outcome after the commit. `mutations` bounds the group's size.
  struct QueuedWrite {
    std::function<Status(ServerTxn&)> apply;
    std::function<void(Status)> done;
    size_t mutations = 0;
    size_t bytes = 0;  // counted against kMaxQueuedPushBytes until done
  };
  void Submit(QueuedWrite w);
  // The committer thread: takes what is queued, applies it, repeats.
  void CommitLoop();
  // Applies `group` in one transaction; if any write fails or the commit
  // does, rolls back and applies each write in its own transaction.
  void CommitGroup(std::vector<QueuedWrite>& group);
  // A done write's bytes leave queued_bytes_; wakes waiting submitters.
  void Release(size_t bytes);

  ServerStore* store_;
  Env env_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<QueuedWrite> queue_;  // guarded by queue_mu_
  std::condition_variable room_cv_;  // queued_bytes_ went down
  size_t queued_bytes_ = 0;        // guarded by queue_mu_: bytes of writes not yet done
  uint64_t next_ticket_ = 0;       // guarded by queue_mu_: admission order of waiting pushes
  uint64_t serving_ticket_ = 0;    // guarded by queue_mu_: the ticket let in next
  bool stopping_ = false;          // guarded by queue_mu_
  std::thread committer_;          // started by the first SubmitPush (under queue_mu_)
};

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_SERVER_CORE_H_
