// SecretBytes: key material. Move-only, always in sodium_malloc'd memory
// (mlock'd where allowed, out of core dumps, guard pages), wiped on
// destruction, compared in constant time, and never printable.
//
// Secrets of up to 64 bytes (every key Doorstep makes) share a process-wide
// slab of fixed-size slots in a few sodium_malloc'd chunks instead of one
// mapping each: a Noise session makes ~5 keys per side, and a mapping per
// key (mmap, mprotect x3, mlock, then munmap with TLB shootdowns) was a
// large share of a busy server's system calls. Each slot sits between random
// canaries, checked when it is released (an overwrite or a double release
// aborts, as sodium_free does); a released slot is wiped before reuse.
// Design and trade-off: core/src/secret_slab_internal.h, docs/hardening.md.
// Thread safety: a value; not shared (allocation itself is thread-safe).
#ifndef DOORSTEP_CORE_SECRET_H_
#define DOORSTEP_CORE_SECRET_H_

#include <cstddef>
#include <string_view>

#include "doorstep/core/status.h"

namespace doorstep {

// Runs sodium_init(). Call once before anything else in Doorstep; safe to call
// again. Returns kInternal if libsodium cannot initialise.
Status Initialize();

class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates n zeroed bytes in sodium_malloc'd memory. On allocation failure
  // the result is empty (size() == 0 and data() == nullptr); check with empty().
  explicit SecretBytes(size_t n);
  // Copies `bytes` in; the caller remains responsible for wiping its copy.
  static SecretBytes Copy(const void* bytes, size_t n);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Constant-time equality (sodium_memcmp); false when sizes differ.
  bool Equals(const SecretBytes& other) const;
  // Wipes and frees now.
  void Reset();
  // An explicit deep copy (never implicit).
  SecretBytes Clone() const { return Copy(data_, size_); }

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace doorstep

#endif  // DOORSTEP_CORE_SECRET_H_
