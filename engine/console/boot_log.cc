#include "engine/console/boot_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "reactor/base/unique_fd.h"

namespace labvirt::engine {
namespace {

// An open log and what fstat said of it; fd empty when the file does not exist.
struct OpenLog {
  UniqueFd fd;
  struct stat st {};
};

Result<OpenLog> Open(const std::string& path) {
  OpenLog log;
  log.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!log.fd) {
    if (errno == ENOENT) return log;
    return Status::FromErrno(errno, "open console log " + path);
  }
  if (::fstat(log.fd.get(), &log.st) != 0) {
    return Status::FromErrno(errno, "stat console log " + path);
  }
  if (!S_ISREG(log.st.st_mode)) return InvalidArgument("console log " + path + " is not a file");
  return log;
}

// Bytes [from, size) of `log`, at most the last `max_bytes` of them.
Result<std::string> ReadFrom(const OpenLog& log, int64_t from, size_t max_bytes,
                             const std::string& path) {
  if (!log.fd) return std::string();
  int64_t size = log.st.st_size;
  from = std::clamp<int64_t>(from, 0, size);
  size_t n = std::min(static_cast<size_t>(size - from), max_bytes);
  off_t offset = static_cast<off_t>(size) - static_cast<off_t>(n);
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(log.fd.get(), buf.data() + got, n - got, offset + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno(errno, "read console log " + path);
    if (r == 0) break;  // truncated under us: keep what we have
    got += static_cast<size_t>(r);
  }
  buf.resize(got);
  return buf;
}

}  // namespace

Result<providers::BootMark> MarkBootLog(const std::string& path, const std::string& domain_id) {
  auto log = Open(path);
  if (!log.ok()) return log.status();
  providers::BootMark mark;
  mark.domain_id = domain_id;
  if (log->fd) {
    mark.log_inode = log->st.st_ino;
    mark.log_offset = log->st.st_size;
  }
  return mark;
}

Result<std::string> ReadBootLog(const std::string& path, const providers::BootMark& mark,
                                size_t max_bytes) {
  auto current = Open(path);
  if (!current.ok()) return current.status();
  if (current->fd && current->st.st_ino == mark.log_inode) {
    return ReadFrom(*current, mark.log_offset, max_bytes, path);
  }
  // The marked file is gone from `path`: everything there is this boot's.
  auto newer = ReadFrom(*current, 0, max_bytes, path);
  if (!newer.ok() || newer->size() >= max_bytes || mark.log_inode == 0) return newer;
  auto rotated = Open(path + ".0");
  if (!rotated.ok()) return rotated.status();
  if (!rotated->fd || rotated->st.st_ino != mark.log_inode) return newer;
  auto older = ReadFrom(*rotated, mark.log_offset, max_bytes - newer->size(), path + ".0");
  if (!older.ok()) return older.status();
  return *older + *newer;
}

}  // namespace labvirt::engine
