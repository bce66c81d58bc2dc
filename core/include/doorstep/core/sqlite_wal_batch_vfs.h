// A SQLite VFS that gathers the WAL writes of a commit into a few large
// writes. SQLite writes each WAL frame with two write calls (its 24-byte
// header, then the page); a push commit of the group committer writes
// hundreds of frames, and the calls' entry and exit cost (~6 % of the
// committer's CPU, docs/server-store.md) goes with them; the device store
// writes 4-5 frames per one-record commit and spills pages mid-batch
// (docs/store.md). Everything else is
// the default VFS's.
//
// The WAL file reads as if unbuffered: contiguous writes are kept in memory
// (up to 1 MB) and written out, in order, as soon as a transaction's commit
// frame is complete (its header names the database size; other frames' do
// not), and before anything else touches that file handle — a read, a size
// query, a truncate, a sync, a file control, a non-contiguous write, a
// close. SQLite publishes a commit to other connections in the WAL index
// only after its frames' writes return (and, under synchronous=FULL, after
// syncing them), so readers and the checkpointer only ever read frames that
// were written out, whatever the synchronous setting: the device store
// commits one meta row with synchronous=NORMAL (store_sync.cc). Frames
// buffered by a transaction that rolls back are written out later, past the
// WAL's last valid frame, where SQLite ignores them (their salts and
// checksums do not match), exactly as if written. Only frames of a
// transaction not yet committed are ever held in memory: a crash of the
// process loses nothing a commit returned.
//
// Thread safety: registered once per process (thread-safe); a file handle is
// used by one connection at a time, as SQLite does.
#ifndef DOORSTEP_CORE_SQLITE_WAL_BATCH_VFS_H_
#define DOORSTEP_CORE_SQLITE_WAL_BATCH_VFS_H_

#include <cstdint>

#include "doorstep/core/status.h"

namespace doorstep::core::internal {

// The VFS's name, registered (not as the default) on the first call.
Result<const char*> WalBatchVfs();

// Write calls this process's WAL batch files passed to the default VFS (tests).
uint64_t WalBatchWrites();
// Sync calls they passed on, of the WAL and the database file alike (tests:
// a device store's connection opens through this VFS).
uint64_t WalBatchSyncs();

}  // namespace doorstep::core::internal

#endif  // DOORSTEP_CORE_SQLITE_WAL_BATCH_VFS_H_
