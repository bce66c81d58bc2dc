// Doorstep's iOS shell: one class over the C ABI (doorstep.h), one to one,
// with no logic of its own. Records, filters, status and reports are JSON
// strings exactly as doorstep.h documents them; every failure throws a
// DoorstepError carrying the ds_error code and message.
//
//   ds_init            Doorstep.initialize()        ds_record_put      store.recordPut(...)
//   ds_version         Doorstep.version             ds_record_edit     store.recordEdit(...)
//   ds_code_name       DoorstepError.codeName       ds_record_get      store.recordGet(id:)
//   ds_validate        Doorstep.validate(...)       ds_record_list     store.recordList(filterJSON:)
//   ds_store_create    Doorstep.create(...)         ds_record_history  store.recordHistory(id:)
//   ds_store_open      Doorstep.open(...)           ds_enroll          store.enroll(...)
//   ds_store_lock      store.lock()                 ds_sync            try await store.sync(progress:)
//   ds_store_unlock    store.unlock(...)            ds_conflicts_list  store.conflictsList(openOnly:)
//   ds_store_passwd    store.passwd(...)            ds_conflict_resolve store.conflictResolve(...)
//   ds_store_wipe      store.wipe()                 ds_cancel_*        Task cancellation of sync
//   ds_store_close     store.close() / deinit      ds_record_put_many store.recordPutMany(recordsJSON:)
//   ds_store_status    store.status()
//
// Thread safety: as the C ABI — calls on one store are serialised inside it.
// This file is not compiled on the project's Linux machines (see README.md).
import CDoorstep
import Foundation

/// A failed call: the C ABI's ds_error.
public struct DoorstepError: Error, CustomStringConvertible {
  public let code: Int32
  /// For `validation` a JSON array of problems; never record content otherwise.
  public let message: String

  public static let invalidArgument: Int32 = 1
  public static let notFound: Int32 = 2
  public static let unauthenticated: Int32 = 3
  public static let permissionDenied: Int32 = 4
  public static let unavailable: Int32 = 5
  public static let aborted: Int32 = 6
  public static let dataLoss: Int32 = 7
  public static let corruption: Int32 = 8
  public static let conflict: Int32 = 9
  public static let failedPrecondition: Int32 = 10
  public static let resourceExhausted: Int32 = 11
  public static let internalError: Int32 = 12
  public static let validation: Int32 = 100

  init(_ err: inout ds_error) {
    code = err.code
    message = withUnsafeBytes(of: &err.message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }

  /// ds_code_name: "not_found", "validation", ...
  public var codeName: String { String(cString: ds_code_name(code)) }
  public var description: String { "\(codeName): \(message)" }
}

/// One progress report of a sync (ds_progress_fn).
public struct SyncProgress: Sendable {
  public let phase: String  // "connect" | "push" | "pull" | "done"
  public let done: Int64
  public let total: Int64
}

public final class Doorstep: @unchecked Sendable {
  private var handle: OpaquePointer?

  private init(_ handle: OpaquePointer) { self.handle = handle }
  deinit { ds_store_close(handle) }

  // MARK: library

  public static func initialize() throws {
    var err = ds_error()
    if !ds_init(&err) { throw DoorstepError(&err) }
  }

  public static var version: String { String(cString: ds_version()) }

  public static func validate(type: String, fieldsJSON: String, status: String? = nil) throws -> String {
    var err = ds_error()
    return try take(withCStrings(type, fieldsJSON, status) { ds_validate($0, $1, $2, &err) }, &err)
  }

  // MARK: stores

  /// `key`: 32 bytes from the Keychain / Secure Enclave; `passphrase`: the user's PIN.
  public static func create(path: String, passphrase: String?, key: [UInt8]?,
                            optionsJSON: String? = nil) throws -> Doorstep {
    var err = ds_error()
    let h = withKey(key) { k, n in
      withCStrings(path, passphrase, optionsJSON) { ds_store_create($0, $1, k, n, $2, &err) }
    }
    guard let handle = h else { throw DoorstepError(&err) }
    return Doorstep(handle)
  }

  public static func open(path: String, passphrase: String?, key: [UInt8]?) throws -> Doorstep {
    var err = ds_error()
    let h = withKey(key) { k, n in
      withCStrings(path, passphrase, nil) { p, pw, _ in ds_store_open(p, pw, k, n, &err) }
    }
    guard let handle = h else { throw DoorstepError(&err) }
    return Doorstep(handle)
  }

  public func lock() throws {
    var err = ds_error()
    if !ds_store_lock(handle, &err) { throw DoorstepError(&err) }
  }

  public func unlock(passphrase: String?, key: [UInt8]?) throws {
    var err = ds_error()
    let ok = Doorstep.withKey(key) { k, n in
      Doorstep.withCStrings(passphrase, nil, nil) { pw, _, _ in ds_store_unlock(handle, pw, k, n, &err) }
    }
    if !ok { throw DoorstepError(&err) }
  }

  public func passwd(oldPassphrase: String?, oldKey: [UInt8]?, newPassphrase: String?,
                     newKey: [UInt8]?) throws {
    var err = ds_error()
    let done = Doorstep.withKey(oldKey) { oldK, oldN in
      Doorstep.withKey(newKey) { newK, newN in
        Doorstep.withCStrings(oldPassphrase, newPassphrase, nil) { oldP, newP, _ in
          ds_store_passwd(handle, oldP, oldK, oldN, newP, newK, newN, &err)
        }
      }
    }
    if !done { throw DoorstepError(&err) }
  }

  public func wipe() throws {
    var err = ds_error()
    if !ds_store_wipe(handle, &err) { throw DoorstepError(&err) }
  }

  /// ds_store_close; later calls throw invalidArgument. Also done by deinit.
  public func close() {
    ds_store_close(handle)
    handle = nil
  }

  public func status() throws -> String {
    var err = ds_error()
    return try Doorstep.take(ds_store_status(handle, &err), &err)
  }

  // MARK: records

  public func recordPut(type: String, subjectId: String, fieldsJSON: String,
                        status: String? = nil) throws -> String {
    var err = ds_error()
    let r = Doorstep.withCStrings(type, subjectId, fieldsJSON) { t, s, f in
      Doorstep.withCStrings(status, nil, nil) { st, _, _ in ds_record_put(handle, t, s, f, st, &err) }
    }
    return try Doorstep.take(r, &err)
  }

  public func recordPutMany(recordsJSON: String) throws -> String {
    var err = ds_error()
    return try Doorstep.take(
      Doorstep.withCStrings(recordsJSON, nil, nil) { r, _, _ in ds_record_put_many(handle, r, &err) }, &err)
  }

  public func recordEdit(id: String, changesJSON: String, status: String? = nil) throws -> String {
    var err = ds_error()
    let r = Doorstep.withCStrings(id, changesJSON, status) { ds_record_edit(handle, $0, $1, $2, &err) }
    return try Doorstep.take(r, &err)
  }

  public func recordGet(id: String) throws -> String {
    var err = ds_error()
    return try Doorstep.take(Doorstep.withCStrings(id, nil, nil) { i, _, _ in ds_record_get(handle, i, &err) }, &err)
  }

  public func recordList(filterJSON: String? = nil) throws -> String {
    var err = ds_error()
    return try Doorstep.take(Doorstep.withCStrings(filterJSON, nil, nil) { f, _, _ in
      ds_record_list(handle, f, &err)
    }, &err)
  }

  public func recordHistory(id: String) throws -> String {
    var err = ds_error()
    return try Doorstep.take(Doorstep.withCStrings(id, nil, nil) { i, _, _ in
      ds_record_history(handle, i, &err)
    }, &err)
  }

  // MARK: sync

  public func enroll(server: String, serverKeyHex: String, code: String) throws {
    var err = ds_error()
    let ok = Doorstep.withCStrings(server, serverKeyHex, code) { ds_enroll(handle, $0, $1, $2, &err) }
    if !ok { throw DoorstepError(&err) }
  }

  /// ds_sync on a background thread. `progress` runs on that thread and must
  /// return quickly. Cancelling the Task sets a ds_cancel_t: the sync stops at
  /// its next batch and throws `aborted` (work committed so far is kept).
  /// Returns the report JSON.
  public func sync(progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws -> String {
    var cerr = ds_error()
    guard let cancel = ds_cancel_new(&cerr) else { throw DoorstepError(&cerr) }
    defer { ds_cancel_free(cancel) }  // runs after the sync has returned
    let box = ProgressBox(progress)
    let handle = self.handle
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (cont: CheckedContinuation<String, Error>) in
        DispatchQueue.global(qos: .utility).async {
          var err = ds_error()
          let user = Unmanaged.passUnretained(box).toOpaque()
          let report = ds_sync(handle, { phase, done, total, user in
            guard let user = user, let phase = phase else { return }
            let box = Unmanaged<ProgressBox>.fromOpaque(user).takeUnretainedValue()
            box.fn(SyncProgress(phase: String(cString: phase), done: done, total: total))
          }, user, cancel, &err)
          do {
            cont.resume(returning: try Doorstep.take(report, &err))
          } catch {
            cont.resume(throwing: error)
          }
        }
      }
    } onCancel: {
      ds_cancel_set(cancel)
    }
  }

  public func conflictsList(openOnly: Bool = true) throws -> String {
    var err = ds_error()
    return try Doorstep.take(ds_conflicts_list(handle, openOnly, &err), &err)
  }

  /// `take`: "server" | "device" | "value" (then `valueJSON` is the value).
  public func conflictResolve(conflictId: String, take: String, valueJSON: String? = nil) throws {
    var err = ds_error()
    let ok = Doorstep.withCStrings(conflictId, take, valueJSON) {
      ds_conflict_resolve(handle, $0, $1, $2, &err)
    }
    if !ok { throw DoorstepError(&err) }
  }

  // MARK: argument conversion only

  private final class ProgressBox {
    let fn: @Sendable (SyncProgress) -> Void
    init(_ fn: @escaping @Sendable (SyncProgress) -> Void) { self.fn = fn }
  }

  /// A returned string (freed here), or the error.
  private static func take(_ p: UnsafeMutablePointer<CChar>?, _ err: inout ds_error) throws -> String {
    guard let p = p else { throw DoorstepError(&err) }
    defer { ds_string_free(p) }
    return String(cString: p)
  }

  private static func withCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s = s else { return body(nil) }
    return s.withCString { body($0) }
  }

  /// Up to three optional Swift strings as C strings valid during `body`.
  private static func withCStrings<R>(
    _ a: String?, _ b: String?, _ c: String?,
    _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> R
  ) -> R {
    withCString(a) { pa in withCString(b) { pb in withCString(c) { pc in body(pa, pb, pc) } } }
  }

  private static func withKey<R>(_ key: [UInt8]?, _ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
    guard let key = key else { return body(nil, 0) }
    return key.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
  }
}
