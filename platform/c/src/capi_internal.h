// The C ABI's boundary machinery, shared by capi_*.cc: the handle structs,
// error filling, the catch-everything wrapper every ds_ function runs in, and
// conversions between C arguments and core types. Not part of the ABI.
// Thread safety: see the handle comments below.
#ifndef DOORSTEP_PLATFORM_C_CAPI_INTERNAL_H_
#define DOORSTEP_PLATFORM_C_CAPI_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "doorstep/core/env.h"
#include "doorstep/core/secret.h"
#include "doorstep/core/status.h"
#include "doorstep/core/store.h"
#include "doorstep/doorstep.h"

// An open store. `store` is null after ds_store_wipe. `mu` serialises calls;
// `owner` is the thread inside a call (to refuse re-entry from a callback,
// which would otherwise deadlock).
struct ds_store {
  std::mutex mu;
  std::atomic<std::thread::id> owner{};
  std::unique_ptr<doorstep::core::Store> store;
  std::string path;
};

struct ds_cancel {
  std::atomic<bool> flag{false};
};

namespace doorstep::capi {

// Test hook: when set, stores and syncs created afterwards use `env` instead
// of RealEnv() (a test makes the core throw through it). nullptr restores the
// real one. Not exported from libdoorstep.so.
void SetEnvForTest(const Env* env);
// The Env new stores and syncs use.
Env CurrentEnv();
// True once ds_init succeeded.
bool Initialized();

// Fills `err` (if not null). Never throws, never allocates.
void FillError(ds_error* err, int code, const char* message) noexcept;
inline void FillError(ds_error* err, const Status& s) noexcept {
  FillError(err, static_cast<int>(s.code()), s.message().c_str());
}

// A malloc'd copy of `s` for the caller, freed with ds_string_free;
// kResourceExhausted when out of memory.
Result<char*> CopyOut(const std::string& s);

// Runs `body` (returning Status or Result<T>) and converts the outcome:
// ok → the value (or `true`), failure → `fail` with `err` filled. Every C
// entry point goes through here, so no exception crosses the ABI.
template <typename Fail, typename Body>
auto Boundary(ds_error* err, Fail fail, Body&& body) noexcept -> Fail {
  try {
    auto r = body();
    if constexpr (std::is_same_v<decltype(r), Status>) {
      if (r.ok()) return Fail(true);
      FillError(err, r);
      return fail;
    } else {
      if (r.ok()) return std::move(r).value();
      FillError(err, r.status());
      return fail;
    }
  } catch (const std::bad_alloc&) {
    FillError(err, DS_ERR_RESOURCE_EXHAUSTED, "out of memory");
  } catch (const std::exception&) {
    // what() may quote input (e.g. a JSON error): never copy it out.
    FillError(err, DS_ERR_INTERNAL,
              "internal error: an unexpected exception inside Doorstep");
  } catch (...) {
    FillError(err, DS_ERR_INTERNAL,
              "internal error: an unexpected exception inside Doorstep");
  }
  return fail;
}

// Holds a store handle's lock for one call. Refuses a call from the thread
// already inside one (a progress callback) and a handle without a store.
class StoreCall {
 public:
  explicit StoreCall(ds_store* h);
  ~StoreCall();
  StoreCall(const StoreCall&) = delete;
  StoreCall& operator=(const StoreCall&) = delete;

  // ok when the call may go on; the store is then `store()`.
  const Status& status() const { return status_; }
  core::Store& store() { return *h_->store; }
  ds_store* handle() { return h_; }

 private:
  ds_store* h_;
  std::unique_lock<std::mutex> lock_;
  Status status_;
};

// A KeySource over optional C arguments; owns the copies (wiped).
class CKey {
 public:
  CKey(const char* passphrase, const uint8_t* key, size_t key_len);
  ~CKey();  // wipes the passphrase copy
  CKey(const CKey&) = delete;
  CKey& operator=(const CKey&) = delete;
  // kInvalidArgument if the key length is not 32 or the copy failed.
  Status Check() const;
  const core::KeySource& source() const { return source_; }

 private:
  std::optional<std::string> passphrase_;
  std::optional<SecretBytes> key_;
  size_t key_len_ = 0;
  core::KeySource source_;
};

// Parses `text` (untrusted) as JSON; kInvalidArgument naming `what` if it is
// not JSON. Never throws.
Result<nlohmann::json> ParseJson(const char* text, const char* what);

// Fails with kInvalidArgument naming `what` when `p` is null.
Status Required(const void* p, const char* what);

}  // namespace doorstep::capi

#endif  // DOORSTEP_PLATFORM_C_CAPI_INTERNAL_H_
