#include "secret_slab_internal.h"

#include <sodium.h>

#include <cstring>

namespace doorstep::internal {

SecretSlab::~SecretSlab() {
  for (unsigned char* c : chunks_) sodium_free(c);
}

SecretSlab& SecretSlab::Global() {
  static SecretSlab* slab = new SecretSlab;  // never destroyed: keys live until exit
  return *slab;
}

bool SecretSlab::AddChunkLocked() {
  if (chunks_.size() >= (UINT32_MAX - 1) / kSlotsPerChunk) return false;
  auto* c = static_cast<unsigned char*>(sodium_malloc(kChunkBytes));
  if (c == nullptr) return false;
  if (chunks_.empty()) {
    // libsodium's CSPRNG, as sodium_malloc's own canary: not application
    // randomness (nothing observable depends on it), so not taken from Env.
    randombytes_buf(canary_, sizeof canary_);
  }
  sodium_memzero(c, kChunkBytes);
  for (size_t i = 0; i <= kSlotsPerChunk; ++i) {
    std::memcpy(c + i * kStride, canary_, kCanaryBytes);
  }
  const size_t first = chunks_.size() * kSlotsPerChunk;
  chunks_.push_back(c);
  in_use_.resize(first + kSlotsPerChunk, false);
  // Pushed in reverse so that slot 0 of the chunk is handed out first.
  for (size_t i = kSlotsPerChunk; i-- > 0;) free_.push_back(static_cast<uint32_t>(first + i));
  return true;
}

unsigned char* SecretSlab::SlotLocked(size_t index) const {
  return chunks_[index / kSlotsPerChunk] + (index % kSlotsPerChunk) * kStride + kCanaryBytes;
}

size_t SecretSlab::IndexOfLocked(const unsigned char* p) const {
  const auto a = reinterpret_cast<uintptr_t>(p);
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const auto base = reinterpret_cast<uintptr_t>(chunks_[c]) + kCanaryBytes;
    if (a < base || a >= base + kSlotsPerChunk * kStride) continue;
    if ((a - base) % kStride != 0) return SIZE_MAX;
    return c * kSlotsPerChunk + (a - base) / kStride;
  }
  return SIZE_MAX;
}

unsigned char* SecretSlab::Allocate() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty() && !AddChunkLocked()) return nullptr;
  const uint32_t index = free_.back();
  free_.pop_back();
  in_use_[index] = true;
  ++in_use_count_;
  return SlotLocked(index);  // zeroed when its chunk was made or it was released
}

void SecretSlab::Release(unsigned char* slot) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t index = IndexOfLocked(slot);
  if (index == SIZE_MAX || !in_use_[index]) sodium_misuse();  // foreign pointer, double release
  if (sodium_memcmp(slot - kCanaryBytes, canary_, kCanaryBytes) != 0 ||
      sodium_memcmp(slot + kSlotBytes, canary_, kCanaryBytes) != 0) {
    sodium_misuse();  // written outside the slot: a neighbouring key may be corrupt
  }
  sodium_memzero(slot, kSlotBytes);
  in_use_[index] = false;
  --in_use_count_;
  free_.push_back(static_cast<uint32_t>(index));
}

size_t SecretSlab::chunks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return chunks_.size();
}

size_t SecretSlab::slots_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_count_;
}

}  // namespace doorstep::internal
