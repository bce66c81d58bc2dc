// The C ABI: library init, version, errors, strings, cancel flags, and the
// boundary helpers every other capi_*.cc uses.
#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "capi_internal.h"

namespace doorstep::capi {
namespace {

std::atomic<bool> g_initialized{false};
std::atomic<const Env*> g_test_env{nullptr};

// The longest prefix of `s` of at most `max` bytes that does not cut a UTF-8
// sequence.
size_t Utf8Prefix(const char* s, size_t max) {
  size_t n = std::strlen(s);
  if (n <= max) return n;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

}  // namespace

void SetEnvForTest(const Env* env) { g_test_env.store(env); }

Env CurrentEnv() {
  const Env* test = g_test_env.load();
  return test != nullptr ? *test : RealEnv();
}

bool Initialized() { return g_initialized.load(); }

void FillError(ds_error* err, int code, const char* message) noexcept {
  if (err == nullptr) return;
  err->code = code;
  if (message == nullptr) message = "";
  size_t n = Utf8Prefix(message, DS_ERROR_MESSAGE_SIZE - 1);
  std::memcpy(err->message, message, n);
  err->message[n] = '\0';
}

Result<char*> CopyOut(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out == nullptr) return ResourceExhaustedError("out of memory");
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

StoreCall::StoreCall(ds_store* h) : h_(h) {
  if (h == nullptr) {
    status_ = InvalidArgumentError("store handle is null");
    return;
  }
  if (h->owner.load() == std::this_thread::get_id()) {
    status_ = FailedPreconditionError(
        "a Doorstep call on this store is already running on this thread "
        "(called from a progress callback?)");
    return;
  }
  lock_ = std::unique_lock<std::mutex>(h->mu);
  h->owner.store(std::this_thread::get_id());
  if (!h->store)
    status_ = FailedPreconditionError("the store was wiped; close the handle");
}

StoreCall::~StoreCall() {
  if (lock_.owns_lock()) h_->owner.store(std::thread::id());
}

CKey::CKey(const char* passphrase, const uint8_t* key, size_t key_len) {
  if (passphrase != nullptr) {
    passphrase_.emplace(passphrase);
    source_.passphrase = &*passphrase_;
  }
  if (key != nullptr) {
    key_len_ = key_len;
    key_.emplace(SecretBytes::Copy(key, key_len));
    source_.keystore_key = &*key_;
  }
}

CKey::~CKey() {
  if (passphrase_ && !passphrase_->empty())
    sodium_memzero(&(*passphrase_)[0], passphrase_->size());
}

Status CKey::Check() const {
  if (key_ && key_len_ != 32)
    return InvalidArgumentError("the platform key must be 32 bytes");
  if (key_ && key_->empty())
    return ResourceExhaustedError("out of memory for the platform key");
  return Status::Ok();
}

Result<nlohmann::json> ParseJson(const char* text, const char* what) {
  if (text == nullptr)
    return InvalidArgumentError(std::string(what) + " is null");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded())
    return InvalidArgumentError(std::string(what) + " is not valid JSON");
  return j;
}

Status Required(const void* p, const char* what) {
  if (p == nullptr) return InvalidArgumentError(std::string(what) + " is null");
  return Status::Ok();
}

}  // namespace doorstep::capi

using doorstep::capi::Boundary;

extern "C" {

const char* ds_code_name(int code) {
  if (code == DS_ERR_VALIDATION) return "validation";
  if (code < 0 || code > DS_ERR_INTERNAL) return "unknown";
  return doorstep::StatusCodeName(static_cast<doorstep::StatusCode>(code));
}

void ds_string_free(char* s) {
  if (s == nullptr) return;
  // Returned strings carry decrypted case content: wipe before freeing.
  sodium_memzero(s, std::strlen(s));
  std::free(s);
}

bool ds_init(ds_error* err) {
  return Boundary(err, false, []() -> doorstep::Status {
    DS_RETURN_IF_ERROR(doorstep::Initialize());
    doorstep::capi::g_initialized.store(true);
    return doorstep::Status::Ok();
  });
}

const char* ds_version(void) { return DOORSTEP_VERSION_STRING; }

ds_cancel_t* ds_cancel_new(ds_error* err) {
  return Boundary(err, static_cast<ds_cancel_t*>(nullptr),
                  []() -> doorstep::Result<ds_cancel_t*> {
                    auto* c = new (std::nothrow) ds_cancel();
                    if (c == nullptr)
                      return doorstep::ResourceExhaustedError("out of memory");
                    return c;
                  });
}

void ds_cancel_set(ds_cancel_t* cancel) {
  if (cancel != nullptr) cancel->flag.store(true);
}

void ds_cancel_free(ds_cancel_t* cancel) { delete cancel; }

}  // extern "C"
