// SyncClient: a device's side of a sync session (docs/sync.md). It pushes the
// store's pending mutations in batches, then pulls changes since the store's
// checkpoint in batches, committing each batch with its checkpoint, so a
// session cut at any byte resumes exactly where it stopped.
//
// Ownership: the client borrows the Store (must outlive it). Thread safety:
// one Sync at a time, on the caller's thread; progress callbacks run on that
// thread and must not block; `cancel` may be set from any thread.
#ifndef DOORSTEP_SYNC_CLIENT_H_
#define DOORSTEP_SYNC_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "doorstep/core/env.h"
#include "doorstep/core/status.h"
#include "doorstep/core/store.h"

namespace doorstep::sync {

// A reliable, ordered, authenticated message pipe (a Noise session after its
// handshake, or a test double).
class MessageChannel {
 public:
  virtual ~MessageChannel() = default;
  // kUnavailable when the connection drops; kDataLoss on an integrity failure.
  virtual Status Send(std::string_view message) = 0;
  virtual Result<std::string> Receive() = 0;
};

struct SyncProgress {
  const char* phase = "";  // "connect" | "push" | "pull" | "done"
  int64_t done = 0;        // never decreases within a phase
  int64_t total = 0;       // best estimate; equals done at the phase's end
};
using ProgressFn = std::function<void(const SyncProgress&)>;

struct SyncOptions {
  size_t push_batch = 256;    // mutations per push message (≤ 256)
  // The first push message's mutations (1 ≤ it ≤ push_batch); each next one
  // holds twice as many, up to push_batch. Small first messages let the
  // server start applying while the device reads the rest of its queue.
  size_t first_push_batch = 16;
  size_t pull_batch = 2000;   // records per pulled batch (≤ 2000); the first asks for ≤ 250, ramping up
  int timeout_ms = 30000;     // per network operation
  ProgressFn progress;        // optional
  const std::atomic<bool>* cancel = nullptr;  // optional; checked between batches
};

struct SyncReport {
  int64_t pushed = 0;     // mutations the server accepted (applied/merged/conflict)
  int64_t rejected = 0;   // mutations the server refused (kept on the device)
  int64_t pulled = 0;     // records received
  int64_t conflicts = 0;  // conflicts received (new or changed)
  int64_t purged = 0;     // records removed by purge notices
  int64_t round_trips = 0;
  // TCP payload bytes of the session (RunSync only): all of it, and the
  // part the Noise handshake took (messages 1-3 and the verdict).
  int64_t bytes_sent = 0;
  int64_t bytes_received = 0;
  int64_t handshake_bytes = 0;
};

// Runs one session over an open channel. Returns kPermissionDenied with
// message "revoked" when the server revoked this device (the caller must then
// wipe the store: see RunSync), kFailedPrecondition for an unsupported
// protocol version, kUnavailable/kAborted when the connection failed (retry;
// nothing is lost), kCancelled-as-kAborted when `cancel` was set.
Result<SyncReport> RunSession(core::Store& store, MessageChannel& channel, const SyncOptions& options);

// Connects to the server the store is enrolled with, over Noise_XX with the
// pinned server key, and runs a session. On "revoked" the store is wiped
// (Store::Destroy) before returning kPermissionDenied.
Result<SyncReport> RunSync(core::Store& store, Env env, const SyncOptions& options);

// Enrols the store with a server: handshake carrying the one-time code,
// then the server's welcome names the practitioner and role, which are saved
// with the pinned server key. kPermissionDenied if the code is refused.
Status Enroll(core::Store& store, Env env, const std::string& server, const std::string& server_key_hex,
              const std::string& code);

}  // namespace doorstep::sync

#endif  // DOORSTEP_SYNC_CLIENT_H_
