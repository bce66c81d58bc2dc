#include "doorstep/core/secret.h"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace doorstep {

namespace {

// Freed small secrets are wiped and kept for reuse (same size only, so the
// block keeps sodium_malloc's layout: guard pages, canary, mlock). A server
// makes several per connection (handshake keys, cipher states); each fresh
// sodium_malloc/sodium_free is an mmap, mprotect, mlock and munmap, and the
// munmap's TLB shootdown across threads dominated a server's handshakes.
constexpr size_t kPooledMaxBytes = 64;
constexpr size_t kPooledPerSize = 256;

struct SecretPool {
  std::mutex mu;
  std::vector<unsigned char*> free[kPooledMaxBytes + 1];  // by size
};

SecretPool& Pool() {
  static SecretPool* pool = new SecretPool;  // never destroyed: used until exit
  return *pool;
}

unsigned char* Allocate(size_t n) {
  if (n <= kPooledMaxBytes) {
    SecretPool& p = Pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (!p.free[n].empty()) {
      unsigned char* b = p.free[n].back();
      p.free[n].pop_back();
      return b;  // wiped when it was released
    }
  }
  return static_cast<unsigned char*>(sodium_malloc(n));
}

void Release(unsigned char* b, size_t n) {
  if (n <= kPooledMaxBytes) {
    sodium_memzero(b, n);
    SecretPool& p = Pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.free[n].size() < kPooledPerSize) {
      p.free[n].push_back(b);
      return;
    }
  }
  sodium_free(b);  // sodium_free wipes before freeing
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
