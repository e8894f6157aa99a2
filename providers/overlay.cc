#include "providers/overlay.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "providers/qcow2_overlay.h"

extern char** environ;

namespace labvirt::providers {
namespace {

// Runs argv, capturing stderr (up to 4 KiB) for the error message.
Status Run(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return Status::FromErrno(rc, "run " + argv[0]);
  }
  std::string err;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (err.size() < 4096) err.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  std::string how = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  return Internal(argv[0] + " failed (" + how + "): " + err);
}

Status Create(const ResolvedImage& base, const std::string& overlay_path, const OverlayTool& tool) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(overlay_path).parent_path(), ec);
  if (ec) return Internal("create directory for " + overlay_path + ": " + ec.message());
  std::string tmp = overlay_path + ".tmp";
  ::unlink(tmp.c_str());
  // Written by labvirt (qcow2_overlay.h: qemu-img's bytes without its ~20 ms start-up); qemu-img
  // makes what that refuses as a shape it does not write (InvalidArgument: a disk over 2 PiB),
  // and says why if it cannot either. Any other failure (the base unreadable, the disk full) is
  // the answer as it is.
  Status s = tool.native ? WriteQcow2Overlay(base, tmp) : Status::Ok();
  if (!tool.native || s.code() == StatusCode::kInvalidArgument) {
    ::unlink(tmp.c_str());
    s = Run({tool.qemu_img, "create", "-q", "-f", "qcow2", "-F",
             std::string(DiskFormatName(base.format)), "-b", base.path, tmp});
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s.WithContext("create overlay " + overlay_path);
  }
  if (::rename(tmp.c_str(), overlay_path.c_str()) != 0) {
    Status r = Status::FromErrno(errno, "rename " + tmp + " to " + overlay_path);
    ::unlink(tmp.c_str());
    return r;
  }
  return Status::Ok();
}

}  // namespace

Result<bool> EnsureOverlay(const ResolvedImage& base, const std::string& overlay_path,
                           const OverlayTool& tool) {
  struct stat st {};
  if (::stat(overlay_path.c_str(), &st) == 0) {
    auto backing = ReadQcow2BackingFile(overlay_path);
    if (!backing.ok()) {
      return FailedPrecondition("existing overlay " + overlay_path + " is unusable (" +
                                backing.status().message() + "); wipe the node to recreate it");
    }
    if (*backing != base.path) {
      return FailedPrecondition("existing overlay " + overlay_path + " is backed by '" + *backing +
                                "', not " + base.path + "; wipe the node to recreate it");
    }
    return false;
  }
  if (errno != ENOENT) return Status::FromErrno(errno, "stat " + overlay_path);
  LABVIRT_RETURN_IF_ERROR(Create(base, overlay_path, tool));
  return true;
}

Status RecreateOverlay(const ResolvedImage& base, const std::string& overlay_path,
                       const OverlayTool& tool) {
  LABVIRT_RETURN_IF_ERROR(DeleteOverlay(overlay_path));
  return Create(base, overlay_path, tool);
}

Status DeleteOverlay(const std::string& overlay_path) {
  if (::unlink(overlay_path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "delete overlay " + overlay_path);
  }
  return Status::Ok();
}

}  // namespace labvirt::providers
