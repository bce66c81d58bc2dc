package org.doorstep;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Doorstep's Android shell: one class over the C ABI (doorstep.h), one to one,
 * with no logic of its own. Strings cross as UTF-8; records, filters, status
 * and reports are JSON strings exactly as the C ABI documents them. Every
 * failure is a {@link DoorstepException} carrying the ds_error code.
 *
 * <pre>
 *   ds_init               Doorstep.init()
 *   ds_version            Doorstep.version()
 *   ds_code_name          Doorstep.codeName(code)
 *   ds_validate           Doorstep.validate(type, fieldsJson, status)
 *   ds_store_create       Doorstep.create(path, passphrase, key, optionsJson)
 *   ds_store_open         Doorstep.open(path, passphrase, key)
 *   ds_store_lock         store.lock()
 *   ds_store_unlock       store.unlock(passphrase, key)
 *   ds_store_passwd       store.passwd(oldPassphrase, oldKey, newPassphrase, newKey)
 *   ds_store_wipe         store.wipe()
 *   ds_store_close        store.close()
 *   ds_store_status       store.status()
 *   ds_record_put         store.recordPut(type, subjectId, fieldsJson, status)
 *   ds_record_put_many    store.recordPutMany(recordsJson)
 *   ds_record_edit        store.recordEdit(id, changesJson, status)
 *   ds_record_get         store.recordGet(id)
 *   ds_record_list        store.recordList(filterJson)
 *   ds_record_history     store.recordHistory(id)
 *   ds_enroll             store.enroll(server, serverKeyHex, code)
 *   ds_sync               store.sync(listener, cancel)
 *   ds_conflicts_list     store.conflictsList(openOnly)
 *   ds_conflict_resolve   store.conflictResolve(conflictId, take, valueJson)
 *   ds_cancel_new/set/free  new Doorstep.Cancel() / cancel() / close()
 * </pre>
 *
 * A passphrase is a {@code char[]} (the caller can wipe it) and a platform
 * key 32 bytes from the Android Keystore; either may be null as doorstep.h
 * allows. Thread safety: as the C ABI — a store may be used from any thread,
 * calls on it are serialised; {@link #close} only when no other call runs.
 */
public final class Doorstep implements AutoCloseable {
  // ds_code, one to one.
  public static final int OK = 0;
  public static final int ERR_INVALID_ARGUMENT = 1;
  public static final int ERR_NOT_FOUND = 2;
  public static final int ERR_UNAUTHENTICATED = 3;
  public static final int ERR_PERMISSION_DENIED = 4;
  public static final int ERR_UNAVAILABLE = 5;
  public static final int ERR_ABORTED = 6;
  public static final int ERR_DATA_LOSS = 7;
  public static final int ERR_CORRUPTION = 8;
  public static final int ERR_CONFLICT = 9;
  public static final int ERR_FAILED_PRECONDITION = 10;
  public static final int ERR_RESOURCE_EXHAUSTED = 11;
  public static final int ERR_INTERNAL = 12;
  public static final int ERR_VALIDATION = 100;

  static {
    System.loadLibrary("doorstep_jni");
  }

  /** The ds_store_t*; 0 once closed. */
  private final AtomicLong handle;

  private Doorstep(long handle) {
    this.handle = new AtomicLong(handle);
  }

  /** A cancel flag for {@link #sync}: ds_cancel_t. */
  public static final class Cancel implements AutoCloseable {
    private final AtomicLong handle;

    public Cancel() throws DoorstepException {
      handle = new AtomicLong(nativeCancelNew());
    }

    /** ds_cancel_set: the sync using this flag stops at its next batch. Any thread. */
    public void cancel() {
      nativeCancelSet(handle.get());
    }

    /** ds_cancel_free. Only when no sync uses it. */
    @Override
    public void close() {
      nativeCancelFree(handle.getAndSet(0));
    }
  }

  // ---- library ----

  public static void init() throws DoorstepException {
    nativeInit();
  }

  public static String version() {
    return nativeVersion();
  }

  public static String codeName(int code) {
    return nativeCodeName(code);
  }

  /** ds_validate: {"ok","problems","flags"} for a record, without saving it. */
  public static String validate(String type, String fieldsJson, String status)
      throws DoorstepException {
    return str(nativeValidate(utf8(type), utf8(fieldsJson), utf8(status)));
  }

  // ---- stores ----

  public static Doorstep create(String path, char[] passphrase, byte[] key, String optionsJson)
      throws DoorstepException {
    byte[] pass = secret(passphrase);
    try {
      return new Doorstep(nativeCreate(utf8(path), pass, key, utf8(optionsJson)));
    } finally {
      wipe(pass);
    }
  }

  public static Doorstep open(String path, char[] passphrase, byte[] key)
      throws DoorstepException {
    byte[] pass = secret(passphrase);
    try {
      return new Doorstep(nativeOpen(utf8(path), pass, key));
    } finally {
      wipe(pass);
    }
  }

  public void lock() throws DoorstepException {
    nativeLock(handle.get());
  }

  public void unlock(char[] passphrase, byte[] key) throws DoorstepException {
    byte[] pass = secret(passphrase);
    try {
      nativeUnlock(handle.get(), pass, key);
    } finally {
      wipe(pass);
    }
  }

  public void passwd(char[] oldPassphrase, byte[] oldKey, char[] newPassphrase, byte[] newKey)
      throws DoorstepException {
    byte[] oldPass = secret(oldPassphrase);
    byte[] newPass = secret(newPassphrase);
    try {
      nativePasswd(handle.get(), oldPass, oldKey, newPass, newKey);
    } finally {
      wipe(oldPass);
      wipe(newPass);
    }
  }

  public void wipe() throws DoorstepException {
    nativeWipe(handle.get());
  }

  @Override
  public void close() {
    nativeClose(handle.getAndSet(0));
  }

  public String status() throws DoorstepException {
    return str(nativeStatus(handle.get()));
  }

  // ---- records ----

  public String recordPut(String type, String subjectId, String fieldsJson, String status)
      throws DoorstepException {
    return str(nativeRecordPut(handle.get(), utf8(type), utf8(subjectId), utf8(fieldsJson),
        utf8(status)));
  }

  public String recordPutMany(String recordsJson) throws DoorstepException {
    return str(nativeRecordPutMany(handle.get(), utf8(recordsJson)));
  }

  public String recordEdit(String id, String changesJson, String status)
      throws DoorstepException {
    return str(nativeRecordEdit(handle.get(), utf8(id), utf8(changesJson), utf8(status)));
  }

  public String recordGet(String id) throws DoorstepException {
    return str(nativeRecordGet(handle.get(), utf8(id)));
  }

  public String recordList(String filterJson) throws DoorstepException {
    return str(nativeRecordList(handle.get(), utf8(filterJson)));
  }

  public String recordHistory(String id) throws DoorstepException {
    return str(nativeRecordHistory(handle.get(), utf8(id)));
  }

  // ---- sync ----

  public void enroll(String server, String serverKeyHex, String code) throws DoorstepException {
    nativeEnroll(handle.get(), utf8(server), utf8(serverKeyHex), utf8(code));
  }

  /** ds_sync; listener and cancel may be null. Returns the report JSON. */
  public String sync(ProgressListener listener, Cancel cancel) throws DoorstepException {
    return str(nativeSync(handle.get(), listener, cancel == null ? 0 : cancel.handle.get()));
  }

  public String conflictsList(boolean openOnly) throws DoorstepException {
    return str(nativeConflictsList(handle.get(), openOnly));
  }

  public void conflictResolve(String conflictId, String take, String valueJson)
      throws DoorstepException {
    nativeConflictResolve(handle.get(), utf8(conflictId), utf8(take), utf8(valueJson));
  }

  // ---- argument conversion only ----

  private static byte[] utf8(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  private static String str(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  private static byte[] secret(char[] chars) {
    if (chars == null) return null;
    ByteBuffer bb = StandardCharsets.UTF_8.encode(CharBuffer.wrap(chars));
    byte[] out = Arrays.copyOfRange(bb.array(), bb.position(), bb.limit());
    Arrays.fill(bb.array(), (byte) 0);
    return out;
  }

  private static void wipe(byte[] b) {
    if (b != null) Arrays.fill(b, (byte) 0);
  }

  private static native void nativeInit() throws DoorstepException;
  private static native String nativeVersion();
  private static native String nativeCodeName(int code);
  private static native byte[] nativeValidate(byte[] type, byte[] fields, byte[] status)
      throws DoorstepException;
  private static native long nativeCreate(byte[] path, byte[] pass, byte[] key, byte[] options)
      throws DoorstepException;
  private static native long nativeOpen(byte[] path, byte[] pass, byte[] key)
      throws DoorstepException;
  private static native void nativeLock(long h) throws DoorstepException;
  private static native void nativeUnlock(long h, byte[] pass, byte[] key)
      throws DoorstepException;
  private static native void nativePasswd(long h, byte[] oldPass, byte[] oldKey, byte[] newPass,
      byte[] newKey) throws DoorstepException;
  private static native void nativeWipe(long h) throws DoorstepException;
  private static native void nativeClose(long h);
  private static native byte[] nativeStatus(long h) throws DoorstepException;
  private static native byte[] nativeRecordPut(long h, byte[] type, byte[] subject, byte[] fields,
      byte[] status) throws DoorstepException;
  private static native byte[] nativeRecordEdit(long h, byte[] id, byte[] changes, byte[] status)
      throws DoorstepException;
  private static native byte[] nativeRecordPutMany(long h, byte[] records)
      throws DoorstepException;
  private static native byte[] nativeRecordGet(long h, byte[] id) throws DoorstepException;
  private static native byte[] nativeRecordList(long h, byte[] filter) throws DoorstepException;
  private static native byte[] nativeRecordHistory(long h, byte[] id) throws DoorstepException;
  private static native void nativeEnroll(long h, byte[] server, byte[] key, byte[] code)
      throws DoorstepException;
  private static native byte[] nativeSync(long h, ProgressListener listener, long cancel)
      throws DoorstepException;
  private static native byte[] nativeConflictsList(long h, boolean openOnly)
      throws DoorstepException;
  private static native void nativeConflictResolve(long h, byte[] id, byte[] take, byte[] value)
      throws DoorstepException;
  private static native long nativeCancelNew() throws DoorstepException;
  private static native void nativeCancelSet(long c);
  private static native void nativeCancelFree(long c);
}
