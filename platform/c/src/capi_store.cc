// The C ABI: opening, locking, re-keying, wiping and closing a store.
#include "capi_internal.h"
#include "capi_json.h"

namespace doorstep::capi {
namespace {

Status RequireInit() {
  if (!Initialized()) return FailedPreconditionError("call ds_init first");
  return Status::Ok();
}

// Reads {"kdf":"moderate"|"interactive","max_failed_unlocks":N}.
Result<core::StoreOptions> ParseStoreOptions(const char* options_json) {
  core::StoreOptions options;
  if (options_json == nullptr) return options;
  DS_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(options_json, "options"));
  if (!j.is_object())
    return InvalidArgumentError("options must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "kdf") {
      if (*it == "moderate") {
        options.kdf = core::KdfProfile::kModerate;
      } else if (*it == "interactive") {
        options.kdf = core::KdfProfile::kInteractive;
      } else {
        return InvalidArgumentError(
            "options.kdf must be \"moderate\" or \"interactive\"");
      }
    } else if (key == "max_failed_unlocks") {
      if (!it->is_number_integer() || *it < 1 || *it > 1000) {
        return InvalidArgumentError(
            "options.max_failed_unlocks must be an integer 1..1000");
      }
      options.max_failed_unlocks = it->get<int>();
    } else {
      return InvalidArgumentError("options: unknown key '" + key + "'");
    }
  }
  return options;
}

Result<ds_store_t*> NewHandle(std::unique_ptr<core::Store> store,
                              const char* path) {
  auto* h = new (std::nothrow) ds_store();
  if (h == nullptr) return ResourceExhaustedError("out of memory");
  h->store = std::move(store);
  h->path = path;
  return h;
}

}  // namespace
}  // namespace doorstep::capi

using namespace doorstep;        // NOLINT: this file is the boundary
using namespace doorstep::capi;  // NOLINT

extern "C" {

ds_store_t* ds_store_create(const char* path, const char* passphrase,
                            const uint8_t* key, size_t key_len,
                            const char* options_json, ds_error* err) {
  return Boundary(
      err, static_cast<ds_store_t*>(nullptr), [&]() -> Result<ds_store_t*> {
        DS_RETURN_IF_ERROR(RequireInit());
        DS_RETURN_IF_ERROR(Required(path, "path"));
        CKey k(passphrase, key, key_len);
        DS_RETURN_IF_ERROR(k.Check());
        DS_ASSIGN_OR_RETURN(core::StoreOptions options,
                            ParseStoreOptions(options_json));
        DS_ASSIGN_OR_RETURN(
            auto store,
            core::Store::Create(path, k.source(), options, CurrentEnv()));
        return NewHandle(std::move(store), path);
      });
}

ds_store_t* ds_store_open(const char* path, const char* passphrase,
                          const uint8_t* key, size_t key_len, ds_error* err) {
  return Boundary(
      err, static_cast<ds_store_t*>(nullptr), [&]() -> Result<ds_store_t*> {
        DS_RETURN_IF_ERROR(RequireInit());
        DS_RETURN_IF_ERROR(Required(path, "path"));
        CKey k(passphrase, key, key_len);
        DS_RETURN_IF_ERROR(k.Check());
        DS_ASSIGN_OR_RETURN(auto store, core::Store::Open(path, CurrentEnv()));
        DS_RETURN_IF_ERROR(store->Unlock(k.source()));
        return NewHandle(std::move(store), path);
      });
}

bool ds_store_lock(ds_store_t* store, ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    call.store().Lock();
    return Status::Ok();
  });
}

bool ds_store_unlock(ds_store_t* store, const char* passphrase,
                     const uint8_t* key, size_t key_len, ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    CKey k(passphrase, key, key_len);
    DS_RETURN_IF_ERROR(k.Check());
    return call.store().Unlock(k.source());
  });
}

bool ds_store_passwd(ds_store_t* store, const char* old_passphrase,
                     const uint8_t* old_key, size_t old_key_len,
                     const char* new_passphrase, const uint8_t* new_key,
                     size_t new_key_len, ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    CKey old_k(old_passphrase, old_key, old_key_len);
    CKey new_k(new_passphrase, new_key, new_key_len);
    DS_RETURN_IF_ERROR(old_k.Check());
    DS_RETURN_IF_ERROR(new_k.Check());
    return call.store().ChangeKey(old_k.source(), new_k.source());
  });
}

bool ds_store_wipe(ds_store_t* store, ds_error* err) {
  return Boundary(err, false, [&]() -> Status {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    Status s = call.store().Destroy();
    call.handle()->store.reset();  // unusable either way
    return s;
  });
}

void ds_store_close(ds_store_t* store) {
  if (store == nullptr) return;
  try {
    {
      std::lock_guard<std::mutex> lock(store->mu);
      if (store->store) store->store->Lock();
      store->store.reset();
    }
    delete store;
  } catch (...) {
    // Nothing can be reported from here; the handle is gone either way.
  }
}

char* ds_store_status(ds_store_t* store, ds_error* err) {
  return Boundary(err, static_cast<char*>(nullptr), [&]() -> Result<char*> {
    StoreCall call(store);
    DS_RETURN_IF_ERROR(call.status());
    DS_ASSIGN_OR_RETURN(core::StoreStatus s, call.store().GetStatus());
    return CopyOut(Dump(core::StoreStatusToJson(call.handle()->path, s)));
  });
}

}  // extern "C"
