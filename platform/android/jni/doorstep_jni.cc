// JNI bridge for org.doorstep.Doorstep: argument conversion over the C ABI
// (doorstep.h) and nothing else. byte[] (UTF-8, converted by the Java side)
// in; byte[] out; a failed call throws org.doorstep.DoorstepException built
// from the ds_error. No C++ exception reaches the JVM: each entry point
// catches everything and raises OutOfMemoryError / IllegalStateException.
// Thread safety: as the C ABI; JNIEnv is only used on the calling thread.
#include <jni.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "doorstep/doorstep.h"

namespace {

jclass g_exception_class =
    nullptr;  // global ref to org.doorstep.DoorstepException
jmethodID g_exception_ctor = nullptr;  // (I[B)V
jmethodID g_progress_method =
    nullptr;  // ProgressListener.onProgress(String, long, long)

// A byte[] argument as a NUL-terminated buffer, or null. Wiped on destruction
// (it may be a passphrase or a key).
class Bytes {
 public:
  Bytes(JNIEnv* env, jbyteArray a) {
    if (a == nullptr) return;
    jsize n = env->GetArrayLength(a);
    data_.assign(static_cast<size_t>(n), '\0');
    if (n > 0)
      env->GetByteArrayRegion(a, 0, n, reinterpret_cast<jbyte*>(&data_[0]));
    present_ = true;
  }
  ~Bytes() {
    volatile char* p = data_.empty() ? nullptr : &data_[0];
    for (size_t i = 0; i < data_.size(); ++i) p[i] = 0;
  }
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;

  const char* str() const { return present_ ? data_.c_str() : nullptr; }
  const uint8_t* bytes() const {
    return present_ ? reinterpret_cast<const uint8_t*>(data_.data()) : nullptr;
  }
  size_t size() const { return data_.size(); }

 private:
  std::string data_;
  bool present_ = false;
};

ds_store_t* Store(jlong h) {
  return reinterpret_cast<ds_store_t*>(static_cast<intptr_t>(h));
}
ds_cancel_t* Cancel(jlong h) {
  return reinterpret_cast<ds_cancel_t*>(static_cast<intptr_t>(h));
}
jlong Handle(const void* p) {
  return static_cast<jlong>(reinterpret_cast<intptr_t>(p));
}

jbyteArray ToBytes(JNIEnv* env, const char* s, size_t n) {
  jbyteArray a = env->NewByteArray(static_cast<jsize>(n));
  if (a != nullptr && n > 0)
    env->SetByteArrayRegion(a, 0, static_cast<jsize>(n),
                            reinterpret_cast<const jbyte*>(s));
  return a;  // null with OutOfMemoryError pending
}

void ThrowError(JNIEnv* env, const ds_error& err) {
  if (env->ExceptionCheck()) return;
  jbyteArray msg = ToBytes(env, err.message, std::strlen(err.message));
  if (msg == nullptr) return;
  jobject ex = env->NewObject(g_exception_class, g_exception_ctor,
                              static_cast<jint>(err.code), msg);
  if (ex != nullptr) env->Throw(static_cast<jthrowable>(ex));
}

void ThrowJava(JNIEnv* env, const char* cls, const char* message) {
  if (env->ExceptionCheck()) return;
  jclass c = env->FindClass(cls);
  if (c != nullptr) env->ThrowNew(c, message);
}

// Runs `body` so that no C++ exception escapes into the JVM.
template <typename R, typename F>
R Guard(JNIEnv* env, R fail, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    ThrowJava(env, "java/lang/OutOfMemoryError", "doorstep JNI bridge");
  } catch (...) {
    ThrowJava(env, "java/lang/IllegalStateException",
              "doorstep JNI bridge: unexpected exception");
  }
  return fail;
}

// A returned string → byte[] (then freed), or the ds_error thrown.
jbyteArray Out(JNIEnv* env, char* s, const ds_error& err) {
  if (s == nullptr) {
    ThrowError(env, err);
    return nullptr;
  }
  jbyteArray a = ToBytes(env, s, std::strlen(s));
  ds_string_free(s);
  return a;
}

void Check(JNIEnv* env, bool ok, const ds_error& err) {
  if (!ok) ThrowError(env, err);
}

struct Progress {
  JNIEnv* env;
  jobject listener;
  bool threw = false;
};

void OnProgress(const char* phase, int64_t done, int64_t total, void* user) {
  auto* p = static_cast<Progress*>(user);
  if (p->threw) return;  // never call into Java with an exception pending
  jstring name = p->env->NewStringUTF(phase);  // phase names are ASCII
  if (name != nullptr) {
    p->env->CallVoidMethod(p->listener, g_progress_method, name,
                           static_cast<jlong>(done), static_cast<jlong>(total));
    p->env->DeleteLocalRef(name);
  }
  if (p->env->ExceptionCheck()) p->threw = true;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK)
    return JNI_ERR;
  jclass ex = env->FindClass("org/doorstep/DoorstepException");
  if (ex == nullptr) return JNI_ERR;
  g_exception_class = static_cast<jclass>(env->NewGlobalRef(ex));
  g_exception_ctor = env->GetMethodID(ex, "<init>", "(I[B)V");
  jclass listener = env->FindClass("org/doorstep/ProgressListener");
  if (listener == nullptr || g_exception_ctor == nullptr) return JNI_ERR;
  g_progress_method =
      env->GetMethodID(listener, "onProgress", "(Ljava/lang/String;JJ)V");
  if (g_exception_class == nullptr || g_progress_method == nullptr)
    return JNI_ERR;
  return JNI_VERSION_1_6;
}

#define DS_JNI(ret, name) \
  JNIEXPORT ret JNICALL Java_org_doorstep_Doorstep_##name

DS_JNI(void, nativeInit)(JNIEnv* env, jclass) {
  ds_error err;
  Check(env, ds_init(&err), err);
}

DS_JNI(jstring, nativeVersion)(JNIEnv* env, jclass) {
  return env->NewStringUTF(ds_version());
}

DS_JNI(jstring, nativeCodeName)(JNIEnv* env, jclass, jint code) {
  return env->NewStringUTF(ds_code_name(code));
}

DS_JNI(jbyteArray, nativeValidate)
(JNIEnv* env, jclass, jbyteArray type, jbyteArray fields, jbyteArray status) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes t(env, type), f(env, fields), s(env, status);
    ds_error err;
    return Out(env, ds_validate(t.str(), f.str(), s.str(), &err), err);
  });
}

DS_JNI(jlong, nativeCreate)
(JNIEnv* env, jclass, jbyteArray path, jbyteArray pass, jbyteArray key,
 jbyteArray options) {
  return Guard(env, jlong(0), [&] {
    Bytes p(env, path), pw(env, pass), k(env, key), o(env, options);
    ds_error err;
    ds_store_t* s =
        ds_store_create(p.str(), pw.str(), k.bytes(), k.size(), o.str(), &err);
    if (s == nullptr) ThrowError(env, err);
    return Handle(s);
  });
}

DS_JNI(jlong, nativeOpen)
(JNIEnv* env, jclass, jbyteArray path, jbyteArray pass, jbyteArray key) {
  return Guard(env, jlong(0), [&] {
    Bytes p(env, path), pw(env, pass), k(env, key);
    ds_error err;
    ds_store_t* s = ds_store_open(p.str(), pw.str(), k.bytes(), k.size(), &err);
    if (s == nullptr) ThrowError(env, err);
    return Handle(s);
  });
}

DS_JNI(void, nativeLock)(JNIEnv* env, jclass, jlong h) {
  ds_error err;
  Check(env, ds_store_lock(Store(h), &err), err);
}

DS_JNI(void, nativeUnlock)
(JNIEnv* env, jclass, jlong h, jbyteArray pass, jbyteArray key) {
  Guard(env, 0, [&] {
    Bytes pw(env, pass), k(env, key);
    ds_error err;
    Check(env, ds_store_unlock(Store(h), pw.str(), k.bytes(), k.size(), &err),
          err);
    return 0;
  });
}

DS_JNI(void, nativePasswd)
(JNIEnv* env, jclass, jlong h, jbyteArray old_pass, jbyteArray old_key,
 jbyteArray new_pass, jbyteArray new_key) {
  Guard(env, 0, [&] {
    Bytes op(env, old_pass), ok(env, old_key), np(env, new_pass),
        nk(env, new_key);
    ds_error err;
    Check(env,
          ds_store_passwd(Store(h), op.str(), ok.bytes(), ok.size(), np.str(),
                          nk.bytes(), nk.size(), &err),
          err);
    return 0;
  });
}

DS_JNI(void, nativeWipe)(JNIEnv* env, jclass, jlong h) {
  ds_error err;
  Check(env, ds_store_wipe(Store(h), &err), err);
}

DS_JNI(void, nativeClose)(JNIEnv*, jclass, jlong h) {
  ds_store_close(Store(h));
}

DS_JNI(jbyteArray, nativeStatus)(JNIEnv* env, jclass, jlong h) {
  return Guard(env, jbyteArray(nullptr), [&] {
    ds_error err;
    return Out(env, ds_store_status(Store(h), &err), err);
  });
}

DS_JNI(jbyteArray, nativeRecordPut)
(JNIEnv* env, jclass, jlong h, jbyteArray type, jbyteArray subject,
 jbyteArray fields, jbyteArray status) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes t(env, type), sub(env, subject), f(env, fields), st(env, status);
    ds_error err;
    return Out(
        env,
        ds_record_put(Store(h), t.str(), sub.str(), f.str(), st.str(), &err),
        err);
  });
}

DS_JNI(jbyteArray, nativeRecordPutMany)
(JNIEnv* env, jclass, jlong h, jbyteArray records) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes r(env, records);
    ds_error err;
    return Out(env, ds_record_put_many(Store(h), r.str(), &err), err);
  });
}

DS_JNI(jbyteArray, nativeRecordEdit)
(JNIEnv* env, jclass, jlong h, jbyteArray id, jbyteArray changes,
 jbyteArray status) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes i(env, id), c(env, changes), st(env, status);
    ds_error err;
    return Out(env, ds_record_edit(Store(h), i.str(), c.str(), st.str(), &err),
               err);
  });
}

DS_JNI(jbyteArray, nativeRecordGet)
(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes i(env, id);
    ds_error err;
    return Out(env, ds_record_get(Store(h), i.str(), &err), err);
  });
}

DS_JNI(jbyteArray, nativeRecordList)
(JNIEnv* env, jclass, jlong h, jbyteArray filter) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes f(env, filter);
    ds_error err;
    return Out(env, ds_record_list(Store(h), f.str(), &err), err);
  });
}

DS_JNI(jbyteArray, nativeRecordHistory)
(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  return Guard(env, jbyteArray(nullptr), [&] {
    Bytes i(env, id);
    ds_error err;
    return Out(env, ds_record_history(Store(h), i.str(), &err), err);
  });
}

DS_JNI(void, nativeEnroll)
(JNIEnv* env, jclass, jlong h, jbyteArray server, jbyteArray key,
 jbyteArray code) {
  Guard(env, 0, [&] {
    Bytes s(env, server), k(env, key), c(env, code);
    ds_error err;
    Check(env, ds_enroll(Store(h), s.str(), k.str(), c.str(), &err), err);
    return 0;
  });
}

DS_JNI(jbyteArray, nativeSync)
(JNIEnv* env, jclass, jlong h, jobject listener, jlong cancel) {
  return Guard(env, jbyteArray(nullptr), [&]() -> jbyteArray {
    Progress progress{env, listener};
    ds_error err;
    char* report = ds_sync(Store(h), listener != nullptr ? OnProgress : nullptr,
                           &progress, Cancel(cancel), &err);
    if (progress
            .threw) {  // the listener's exception is pending: let it propagate
      ds_string_free(report);
      return nullptr;
    }
    return Out(env, report, err);
  });
}

DS_JNI(jbyteArray, nativeConflictsList)
(JNIEnv* env, jclass, jlong h, jboolean open_only) {
  return Guard(env, jbyteArray(nullptr), [&] {
    ds_error err;
    return Out(env, ds_conflicts_list(Store(h), open_only == JNI_TRUE, &err),
               err);
  });
}

DS_JNI(void, nativeConflictResolve)
(JNIEnv* env, jclass, jlong h, jbyteArray id, jbyteArray take,
 jbyteArray value) {
  Guard(env, 0, [&] {
    Bytes i(env, id), t(env, take), v(env, value);
    ds_error err;
    Check(env, ds_conflict_resolve(Store(h), i.str(), t.str(), v.str(), &err),
          err);
    return 0;
  });
}

DS_JNI(jlong, nativeCancelNew)(JNIEnv* env, jclass) {
  ds_error err;
  ds_cancel_t* c = ds_cancel_new(&err);
  if (c == nullptr) ThrowError(env, err);
  return Handle(c);
}

DS_JNI(void, nativeCancelSet)(JNIEnv*, jclass, jlong c) {
  ds_cancel_set(Cancel(c));
}

DS_JNI(void, nativeCancelFree)(JNIEnv*, jclass, jlong c) {
  ds_cancel_free(Cancel(c));
}

}  // extern "C"
