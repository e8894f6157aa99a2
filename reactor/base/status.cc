#include "reactor/base/status.h"

#include <cstring>

namespace labvirt {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::FromErrno(int err, std::string_view context) {
  StatusCode code = StatusCode::kInternal;
  switch (err) {
    case ENOENT:
      code = StatusCode::kNotFound;
      break;
    case EEXIST:
      code = StatusCode::kAlreadyExists;
      break;
    case EINVAL:
      code = StatusCode::kInvalidArgument;
      break;
    case ECANCELED:
      code = StatusCode::kCancelled;
      break;
    case ETIME:
    case ETIMEDOUT:
      code = StatusCode::kDeadlineExceeded;
      break;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EIO:
      code = StatusCode::kUnavailable;
      break;
    case EAGAIN:
    case ENOBUFS:
    case EMFILE:
    case ENFILE:
      code = StatusCode::kResourceExhausted;
      break;
    default:
      break;
  }
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(code, std::move(msg));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  Status out(code_, std::move(msg));
  out.field_ = field_;
  out.summary_ = summary_;
  return out;
}

Status Status::WithField(std::string field) const {
  Status out = *this;
  if (!ok()) out.field_ = std::move(field);
  return out;
}

Status Status::WithSummary(std::string summary) const {
  Status out = *this;
  if (!ok()) out.summary_ = std::move(summary);
  return out;
}

}  // namespace labvirt
