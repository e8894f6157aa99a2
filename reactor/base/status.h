// Status and Result<T>: the error currency inside labvirt.
//
// Every fallible call inside the loop returns one of these instead of throwing. A Status carries a
// code and a message that already holds its context ("open /dev/pts/7: EIO"); add context where the
// error is created, log it once where it is handled. Result<T> is named after std::expected, which
// g++ 12 lacks under C++20.
#ifndef LABVIRT_REACTOR_BASE_STATUS_H_
#define LABVIRT_REACTOR_BASE_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace labvirt {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; retrying will not help
  kNotFound,            // the named object does not exist
  kAlreadyExists,       // the named object exists and must not
  kUnavailable,         // a peer (libvirtd, ovsdb-server) is unreachable; retry may help
  kResourceExhausted,   // a bounded queue or budget is full
  kCancelled,           // the operation was cancelled before it completed
  kDeadlineExceeded,    // the operation timed out
  kFailedPrecondition,  // the system is not in a state where the call can run
  kInternal,            // an OS or library call failed unexpectedly
};

// Returns a stable lower-case name for `code`, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // An error from errno-style `err` (positive), with `context` naming what failed.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "code: message", or "ok".
  std::string ToString() const;
  // Returns a copy with `context + ": "` prepended to the message.
  Status WithContext(std::string_view context) const;

  // What a caller outside (a client of the control socket) is told besides the message: the
  // input or part concerned (a request's field path, "nodes[1].image", or "node", "network"…)
  // and a short summary of what failed ("NIC not added"); both empty unless set. The control
  // server maps code, summary, field and message onto a JSON-RPC error in one place.
  Status WithField(std::string field) const;
  Status WithSummary(std::string summary) const;
  const std::string& field() const { return field_; }
  const std::string& summary() const { return summary_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
  std::string summary_;
};

inline Status InvalidArgument(std::string msg) {
  return Status(StatusCode::kInvalidArgument, std::move(msg));
}
inline Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
inline Status Unavailable(std::string msg) {
  return Status(StatusCode::kUnavailable, std::move(msg));
}
inline Status ResourceExhausted(std::string msg) {
  return Status(StatusCode::kResourceExhausted, std::move(msg));
}
inline Status Cancelled(std::string msg) { return Status(StatusCode::kCancelled, std::move(msg)); }
inline Status FailedPrecondition(std::string msg) {
  return Status(StatusCode::kFailedPrecondition, std::move(msg));
}
inline Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
// The caller's input at `field` (a request's field path) is wrong, because `reason`.
inline Status InvalidField(std::string field, std::string reason) {
  return InvalidArgument(std::move(reason)).WithField(std::move(field));
}

// A value or a non-OK Status. Accessing value() of an error is a broken invariant (aborts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design, like std::expected
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) std::get<Status>(v_) = Internal("Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace labvirt

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define LABVIRT_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::labvirt::Status labvirt_status_ = (expr);        \
    if (!labvirt_status_.ok()) return labvirt_status_; \
  } while (0)

#endif  // LABVIRT_REACTOR_BASE_STATUS_H_
