// SecretSlab: fixed-size slots for small key material (up to kSlotBytes),
// carved out of a few large sodium_malloc'd chunks, so that a key costs a
// mutex and a pointer pop instead of a fresh sodium_malloc.
//
// Why: sodium_malloc gives every allocation its own mapping (mmap, three
// mprotects, mlock, madvise) and sodium_free unmaps it again (mprotect,
// madvise, munlock, munmap; the munmap sends TLB-shootdown IPIs to every
// core running one of the process's threads). A Noise session makes about
// five 32- or 64-byte keys on each side (a copy of the static key, the
// ephemeral key, the chaining key, two cipher keys); with 200 sessions at
// once that was ~1,300 sodium_mallocs and ~6,000 of those system calls per
// `doorstep bench server` run, on a VM where each one is expensive.
//
// What is kept: every slot lives in sodium_malloc'd memory (mlock'd where
// allowed, excluded from core dumps, guard pages around each chunk). A
// released slot is wiped (sodium_memzero) before it is reused, and chunks
// are only freed (sodium_free, which wipes again) when the slab is
// destroyed. What changes: there is no guard page between two keys of one
// chunk. Instead, 16 random canary bytes sit before every slot and after the
// last one; Release checks both neighbours of the slot and aborts through
// sodium_misuse() (as sodium_free does on a bad canary) if either was
// overwritten. Release also aborts on a pointer that is not the start of a
// slot of this slab, and on a slot that is not allocated (double release).
//
// Chunk layout (kChunkBytes of user memory, so sodium_malloc's own canary
// and rounding fill exactly four pages):
//   [canary][slot 0][canary][slot 1] ... [canary][slot n-1][canary]
//
// Memory: chunks are kept until the slab is destroyed, so a process holds
// (peak number of live small keys) x 80 bytes, in 16 KB chunks.
// Ownership: the slab owns its chunks; callers own the slots they were
// given until they Release them. The process-wide slab (Global()) is never
// destroyed. Thread safety: Allocate and Release are thread-safe (one
// mutex); the bytes of a slot belong to whoever holds it.
#ifndef DOORSTEP_CORE_SECRET_SLAB_INTERNAL_H_
#define DOORSTEP_CORE_SECRET_SLAB_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace doorstep::internal {

class SecretSlab {
 public:
  static constexpr size_t kSlotBytes = 64;
  static constexpr size_t kCanaryBytes = 16;
  static constexpr size_t kStride = kCanaryBytes + kSlotBytes;
  static constexpr size_t kChunkBytes = 4 * 4096 - 16;  // + sodium's canary = 4 pages
  static constexpr size_t kSlotsPerChunk = (kChunkBytes - kCanaryBytes) / kStride;

  SecretSlab() = default;
  // Frees every chunk (sodium_free wipes them). Slots still held become
  // invalid: only tests destroy a slab.
  ~SecretSlab();
  SecretSlab(const SecretSlab&) = delete;
  SecretSlab& operator=(const SecretSlab&) = delete;

  // The process-wide slab SecretBytes uses (never destroyed).
  static SecretSlab& Global();

  // A zeroed slot of kSlotBytes bytes, or nullptr if a new chunk was needed
  // and sodium_malloc failed.
  unsigned char* Allocate();
  // Wipes the slot and makes it available again. Aborts (sodium_misuse) if
  // `slot` is not an allocated slot of this slab or a canary next to it was
  // overwritten.
  void Release(unsigned char* slot);

  // Chunks allocated so far and slots currently handed out (for tests).
  size_t chunks() const;
  size_t slots_in_use() const;

 private:
  bool AddChunkLocked();
  // The slot index (chunk * kSlotsPerChunk + slot) of `p`, or SIZE_MAX.
  size_t IndexOfLocked(const unsigned char* p) const;
  unsigned char* SlotLocked(size_t index) const;

  mutable std::mutex mu_;
  unsigned char canary_[kCanaryBytes] = {};
  std::vector<unsigned char*> chunks_;
  std::vector<uint32_t> free_;  // slot indices, reused last-in first-out
  std::vector<bool> in_use_;    // by slot index
  size_t in_use_count_ = 0;
};

}  // namespace doorstep::internal

#endif  // DOORSTEP_CORE_SECRET_SLAB_INTERNAL_H_
