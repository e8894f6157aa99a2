// WriteFileAtomically (providers/config_medium.h): temporary file, fsync, rename, fsync of the
// directory. Runs of zero blocks are skipped with lseek so that the 8 MiB FAT image, which is
// mostly empty, takes a few KiB on disk (as the fixture images do).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "providers/config_medium.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::providers {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Internal(what + " " + path + ": " + std::strerror(errno));
}

bool AllZero(std::string_view block) {
  for (char c : block) {
    if (c != 0) return false;
  }
  return true;
}

Status WriteSparse(int fd, std::string_view bytes, const std::string& path) {
  constexpr size_t kBlock = 4096;
  for (size_t at = 0; at < bytes.size(); at += kBlock) {
    std::string_view block = bytes.substr(at, kBlock);
    if (AllZero(block)) continue;
    size_t done = 0;
    while (done < block.size()) {
      ssize_t n =
          pwrite(fd, block.data() + done, block.size() - done, static_cast<off_t>(at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("write", path);
      done += static_cast<size_t>(n);
    }
  }
  if (ftruncate(fd, static_cast<off_t>(bytes.size())) != 0) return Errno("truncate", path);
  if (fsync(fd) != 0) return Errno("fsync", path);
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::filesystem::path target(path);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return Internal("create " + target.parent_path().string() + ": " + ec.message());
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno("create", tmp);
    if (Status st = WriteSparse(fd.get(), bytes, tmp); !st.ok()) {
      unlink(tmp.c_str());
      return st;
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Errno("rename to", path);
    unlink(tmp.c_str());
    return st;
  }
  UniqueFd dir(open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) fsync(dir.get());  // the rename itself survives a crash
  return Status::Ok();
}

}  // namespace labvirt::providers
