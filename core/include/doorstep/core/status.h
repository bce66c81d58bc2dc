// Status and Result<T>: how every Doorstep module reports failure.
//
// No exception crosses a module's public API. A Status is ok, or a code plus
// a message; each code tells the caller what to do next. Result<T> holds a
// value or a non-ok Status. Both are cheap to move and [[nodiscard]].
// Thread safety: values; no shared state.
#ifndef DOORSTEP_CORE_STATUS_H_
#define DOORSTEP_CORE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace doorstep {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,    // fix the input; retrying the same call fails again
  kNotFound = 2,           // the thing named does not exist
  kUnauthenticated = 3,    // wrong key/passphrase, unknown peer; do not retry
  kPermissionDenied = 4,   // not allowed (role, caseload, revoked); do not retry
  kUnavailable = 5,        // transient (network, busy); retry the call later
  kAborted = 6,            // interrupted mid-way; retry the whole operation
  kDataLoss = 7,           // a ciphertext/frame failed authentication; stop
  kCorruption = 8,         // a file or structure is malformed; stop
  kConflict = 9,           // concurrent change; see the conflict entry
  kFailedPrecondition = 10,// wrong state (locked store, not enrolled, ...)
  kResourceExhausted = 11, // a size or count limit was hit
  kInternal = 12,          // a bug or an unexpected library error
};

// Returns a stable lower_snake name for `code`, e.g. "data_loss".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "data_loss: <message>" or "ok".
  std::string ToString() const;

  // Prefixes the message with context; a no-op on ok.
  Status Annotate(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status UnauthenticatedError(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDeniedError(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status CorruptionError(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status ConflictError(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an ok Status without a value");
    if (status_.ok()) status_ = InternalError("Result built from ok Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace doorstep

#define DS_STATUS_CONCAT_INNER_(a, b) a##b
#define DS_STATUS_CONCAT_(a, b) DS_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (a Status) is not ok.
#define DS_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    ::doorstep::Status ds_status_tmp_ = (expr);     \
    if (!ds_status_tmp_.ok()) return ds_status_tmp_; \
  } while (0)

// `lhs` = value of `rexpr` (a Result<T>), or returns its Status.
#define DS_ASSIGN_OR_RETURN(lhs, rexpr) \
  DS_ASSIGN_OR_RETURN_IMPL_(DS_STATUS_CONCAT_(ds_result_, __LINE__), lhs, rexpr)
#define DS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // DOORSTEP_CORE_STATUS_H_
