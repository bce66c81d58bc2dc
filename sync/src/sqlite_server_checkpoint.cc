// The SQLite server store's WAL checkpointer: checkpoints run on a thread
// and connection of their own instead of inside the committing transaction.
//
// SQLite's automatic checkpoint runs in the connection that commits, after
// its commit, so with synchronous=FULL every ~1,000 WAL frames one push
// commit also copied the WAL into server.db and waited for two more fsyncs
// (WAL and database file) before the group committer could start the next
// transaction. Here the writer's WAL hook only wakes this thread, which runs
// a PASSIVE checkpoint (it never blocks the writer or readers; it copies the
// frames no reader still needs, and the next writer restarts the WAL once
// everything is copied). Durability is unchanged: each commit still fsyncs
// the WAL; a checkpoint fsyncs as before, only elsewhere.
#include <sqlite3.h>

#include "sqlite_server_store_internal.h"

namespace doorstep::sync::internal {

namespace {

int OnWalCommit(void* self, sqlite3* db, const char* name, int frames) {
  static_cast<WalCheckpointer*>(self)->Committed(db, name, frames);
  return SQLITE_OK;
}

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                core::Database& writer) {
  std::unique_ptr<WalCheckpointer> c(new WalCheckpointer());
  DS_ASSIGN_OR_RETURN(c->db_, core::Database::Open(path, core::Database::Mode::kReadWrite));
  // A connection learns the file is in WAL mode on its first read; until
  // then a checkpoint through it does nothing.
  DS_RETURN_IF_ERROR(c->db_->Exec("SELECT COUNT(*) FROM sqlite_schema"));
  sqlite3_wal_hook(writer.raw(), &OnWalCommit, c.get());
  c->writer_ = &writer;
  c->thread_ = std::thread([p = c.get()] { p->Run(); });
  return c;
}

WalCheckpointer::~WalCheckpointer() {
  if (writer_ != nullptr) sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::Committed(sqlite3* db, const char* name, int frames) {
  if (frames < kBackgroundFrames) return;
  int copied = copied_.load();
  if (frames >= kForegroundFrames || (copied > 0 && copied + kFinishFrames >= frames)) {
    // The WAL restarts (the next writer writes from its start again) only
    // if every frame is copied when a write transaction begins, which a
    // checkpoint on another thread cannot time while commits go on. So once
    // the background has copied all but the last few commits' frames, the
    // writer copies the rest itself (a few frames and the checkpoint's
    // fsyncs). Far past the mark (a long reader, a slow disk) it checkpoints
    // itself anyway, as SQLite's automatic checkpoint would.
    if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
        SQLITE_OK) {
      copied_.store(0);
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted_ = true;
  }
  cv_.notify_one();
}

void WalCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || wanted_; });
    if (stopping_) return;
    wanted_ = false;
    lock.unlock();
    // Errors (SQLITE_BUSY while another connection checkpoints) are retried
    // at the next wake-up; nothing depends on this checkpoint finishing.
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied) ==
        SQLITE_OK) {
      copied_.store(copied > 0 ? copied : 0);
    }
    ++checkpoints_;
    lock.lock();
  }
}

}  // namespace doorstep::sync::internal
