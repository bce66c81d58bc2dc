// The WAL batching VFS (sqlite_wal_batch_vfs.h): a shim over the default VFS
// whose files forward every call, except that a WAL file's contiguous
// writes are gathered and written out before any other use of the file.
#include "doorstep/core/sqlite_wal_batch_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace doorstep::core::internal {
namespace {

constexpr char kVfsName[] = "doorstep-walbatch";
// Written out once this much is gathered (a push commit is ~1-2 MB of WAL).
constexpr size_t kMaxGathered = 1u << 20;

std::atomic<uint64_t> g_writes{0};
std::atomic<uint64_t> g_syncs{0};

struct BatchFile {
  sqlite3_file base;  // first: SQLite sees this
  sqlite3_file* real;
  bool wal;
  sqlite3_int64 start;  // file offset of gathered[0]
  std::string gathered;
  // The last write was the 24-byte header of a commit frame: its page is
  // the next write, and the gathered bytes go out right after it.
  bool commit_frame = false;
};

// A WAL frame header (24 bytes, big-endian words) names the database's size
// in pages after the commit in its second word on a transaction's commit
// frame, 0 on every other frame (sqlite.org/fileformat.html, "WAL Format").
bool IsCommitFrameHeader(const void* buf, int n, sqlite3_int64 off) {
  if (n != 24 || off < 32) return false;  // 32: the WAL header
  const unsigned char* h = static_cast<const unsigned char*>(buf);
  return (h[4] | h[5] | h[6] | h[7]) != 0;
}

BatchFile* F(sqlite3_file* f) { return reinterpret_cast<BatchFile*>(f); }
sqlite3_vfs* Real(sqlite3_vfs* v) { return static_cast<sqlite3_vfs*>(v->pAppData); }

int WriteOut(BatchFile* f) {
  int rc = SQLITE_OK;
  // The unix VFS writes at most 128 KB - 1 per call (it masks larger
  // counts), so the gathered bytes go out in pieces of 124 KB.
  constexpr size_t kPiece = 124u << 10;
  for (size_t at = 0; rc == SQLITE_OK && at < f->gathered.size(); at += kPiece) {
    size_t n = std::min(kPiece, f->gathered.size() - at);
    g_writes.fetch_add(1, std::memory_order_relaxed);
    rc = f->real->pMethods->xWrite(f->real, f->gathered.data() + at, static_cast<int>(n),
                                   f->start + static_cast<sqlite3_int64>(at));
  }
  f->gathered.clear();  // keeps its capacity for the next commit
  return rc;
}

int Close(sqlite3_file* file) {
  BatchFile* f = F(file);
  int rc = WriteOut(f);
  int rc2 = f->real->pMethods->xClose(f->real);
  f->~BatchFile();
  return rc != SQLITE_OK ? rc : rc2;
}

int Read(sqlite3_file* file, void* buf, int n, sqlite3_int64 off) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, buf, n, off);
}

int Write(sqlite3_file* file, const void* buf, int n, sqlite3_int64 off) {
  BatchFile* f = F(file);
  if (!f->wal) return f->real->pMethods->xWrite(f->real, buf, n, off);
  if (!f->gathered.empty() && off != f->start + static_cast<sqlite3_int64>(f->gathered.size())) {
    if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  }
  if (f->gathered.empty()) f->start = off;
  f->gathered.append(static_cast<const char*>(buf), static_cast<size_t>(n));
  // A commit frame's page completes the transaction's frames: they are
  // written out before SQLite publishes the commit to other connections
  // (it does so once its writes return, syncing first only under
  // synchronous=FULL), so a commit made with synchronous=NORMAL is in the
  // file too, exactly as without this VFS.
  const bool commit_done = f->commit_frame;
  f->commit_frame = IsCommitFrameHeader(buf, n, off);
  return commit_done || f->gathered.size() >= kMaxGathered ? WriteOut(f) : SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int Sync(sqlite3_file* file, int flags) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  g_syncs.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xSync(f->real, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int Lock(sqlite3_file* file, int l) { return F(file)->real->pMethods->xLock(F(file)->real, l); }
int Unlock(sqlite3_file* file, int l) { return F(file)->real->pMethods->xUnlock(F(file)->real, l); }
int CheckReservedLock(sqlite3_file* file, int* out) {
  return F(file)->real->pMethods->xCheckReservedLock(F(file)->real, out);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int SectorSize(sqlite3_file* file) { return F(file)->real->pMethods->xSectorSize(F(file)->real); }
int DeviceCharacteristics(sqlite3_file* file) {
  return F(file)->real->pMethods->xDeviceCharacteristics(F(file)->real);
}
int ShmMap(sqlite3_file* file, int pg, int sz, int extend, void volatile** out) {
  return F(file)->real->pMethods->xShmMap(F(file)->real, pg, sz, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return F(file)->real->pMethods->xShmLock(F(file)->real, offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) { F(file)->real->pMethods->xShmBarrier(F(file)->real); }
int ShmUnmap(sqlite3_file* file, int del) {
  return F(file)->real->pMethods->xShmUnmap(F(file)->real, del);
}
int Fetch(sqlite3_file* file, sqlite3_int64 off, int n, void** out) {
  BatchFile* f = F(file);
  if (int rc = WriteOut(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFetch(f->real, off, n, out);
}
int Unfetch(sqlite3_file* file, sqlite3_int64 off, void* p) {
  return F(file)->real->pMethods->xUnfetch(F(file)->real, off, p);
}

const sqlite3_io_methods kMethods = {
    3,         Close,           Read,      Write,     Truncate,   Sync,
    FileSize,  Lock,            Unlock,    CheckReservedLock,     FileControl,
    SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap,
    Fetch,     Unfetch};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  BatchFile* f = new (file) BatchFile();
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(BatchFile));
  std::memset(f->real, 0, static_cast<size_t>(Real(vfs)->szOsFile));
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  int rc = Real(vfs)->xOpen(Real(vfs), name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == nullptr || f->real->pMethods->iVersion < 3) {
    if (rc == SQLITE_OK) {
      f->real->pMethods->xClose(f->real);
      rc = SQLITE_CANTOPEN;
    }
    f->~BatchFile();
    file->pMethods = nullptr;
    return rc;
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* v, const char* n, int sync) { return Real(v)->xDelete(Real(v), n, sync); }
int Access(sqlite3_vfs* v, const char* n, int flags, int* out) {
  return Real(v)->xAccess(Real(v), n, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* n, int size, char* out) {
  return Real(v)->xFullPathname(Real(v), n, size, out);
}
void* DlOpen(sqlite3_vfs* v, const char* n) { return Real(v)->xDlOpen(Real(v), n); }
void DlError(sqlite3_vfs* v, int n, char* out) { Real(v)->xDlError(Real(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* h, const char* s))(void) { return Real(v)->xDlSym(Real(v), h, s); }
void DlClose(sqlite3_vfs* v, void* h) { Real(v)->xDlClose(Real(v), h); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Real(v)->xRandomness(Real(v), n, out); }
int Sleep(sqlite3_vfs* v, int us) { return Real(v)->xSleep(Real(v), us); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Real(v)->xCurrentTime(Real(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) { return Real(v)->xGetLastError(Real(v), n, out); }
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return Real(v)->xCurrentTimeInt64(Real(v), out);
}

sqlite3_vfs g_vfs;
std::once_flag g_once;
int g_registered = SQLITE_ERROR;

}  // namespace

Result<const char*> WalBatchVfs() {
  std::call_once(g_once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    if (real == nullptr || real->iVersion < 2) return;
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(BatchFile)) + real->szOsFile;
    g_vfs.mxPathname = real->mxPathname;
    g_vfs.zName = kVfsName;
    g_vfs.pAppData = real;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    g_registered = sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
  });
  if (g_registered != SQLITE_OK) return InternalError("cannot register the WAL batching SQLite VFS");
  return kVfsName;
}

uint64_t WalBatchWrites() { return g_writes.load(std::memory_order_relaxed); }

uint64_t WalBatchSyncs() { return g_syncs.load(std::memory_order_relaxed); }

}  // namespace doorstep::core::internal
