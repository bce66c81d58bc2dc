#include "doorstep/core/secret.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "secret_slab_internal.h"

namespace doorstep {

namespace {

using internal::SecretSlab;

// Small secrets (every key Doorstep makes: 32 and 64 bytes) take a slot of
// the process-wide slab (secret_slab_internal.h): locked, wiped on release,
// no mmap/munmap per key. Bigger ones get their own sodium_malloc.
unsigned char* Allocate(size_t n) {
  if (n <= SecretSlab::kSlotBytes) return SecretSlab::Global().Allocate();
  return static_cast<unsigned char*>(sodium_malloc(n));
}

void Release(unsigned char* b, size_t n) {
  if (n <= SecretSlab::kSlotBytes) {
    SecretSlab::Global().Release(b);  // wipes the whole slot
  } else {
    sodium_free(b);  // wipes before freeing
  }
}

}  // namespace

Status Initialize() {
  if (sodium_init() < 0) return InternalError("libsodium failed to initialise");
  return Status::Ok();
}

SecretBytes::SecretBytes(size_t n) {
  if (n == 0) return;
  data_ = Allocate(n);
  if (data_ == nullptr) return;
  sodium_memzero(data_, n);
  size_ = n;
}

SecretBytes SecretBytes::Copy(const void* bytes, size_t n) {
  SecretBytes s(n);
  if (!s.empty()) std::memcpy(s.data_, bytes, n);
  return s;
}

SecretBytes::~SecretBytes() { Reset(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data_, size_) == 0;
}

void SecretBytes::Reset() {
  if (data_ != nullptr) Release(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace doorstep
