#include "engine/console/console_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace labvirt::engine {
namespace {

// Appends the last `want` bytes of `path` to `*out`. Sets *missing when it does not exist.
Status ReadFileTail(const std::string& path, size_t want, std::string* out, bool* missing) {
  *missing = false;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) {
      *missing = true;
      return Status::Ok();
    }
    return Status::FromErrno(errno, "open console log " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat console log " + path);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("console log " + path + " is not a file");
  size_t size = static_cast<size_t>(st.st_size);
  size_t n = std::min(size, want);
  off_t offset = static_cast<off_t>(size - n);
  std::string buf(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd.get(), buf.data() + got, n - got, offset + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno(errno, "read console log " + path);
    if (r == 0) break;  // truncated under us (rotation): keep what we have
    got += static_cast<size_t>(r);
  }
  buf.resize(got);
  out->append(buf);
  return Status::Ok();
}

}  // namespace

Result<std::string> ConsoleLog::ReadTail(const std::string& path, size_t max_bytes) {
  if (path.empty() || path[0] != '/') return InvalidArgument("console log path must be absolute");
  if (max_bytes > kMaxTailBytes) {
    return InvalidArgument("console tail of " + std::to_string(max_bytes) + " bytes exceeds " +
                           std::to_string(kMaxTailBytes));
  }
  std::string current;
  bool missing = false;
  LABVIRT_RETURN_IF_ERROR(ReadFileTail(path, max_bytes, &current, &missing));
  bool current_missing = missing;
  std::string older;
  if (current.size() < max_bytes) {
    LABVIRT_RETURN_IF_ERROR(
        ReadFileTail(path + ".0", max_bytes - current.size(), &older, &missing));
    if (current_missing && missing) return NotFound("no console log at " + path);
  }
  return older + current;
}

Status ConsoleLog::Tail(reactor::WorkerPool& pool, std::string path, size_t max_bytes,
                        std::function<void(Result<std::string>)> done) {
  return pool.Submit<Result<std::string>>(
      [path = std::move(path), max_bytes] { return ReadTail(path, max_bytes); }, std::move(done));
}

}  // namespace labvirt::engine
