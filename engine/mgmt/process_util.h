// The OS calls DhcpServer needs, each small and blocking only briefly: spawning a daemon detached
// from labvirtd, pidfds, /proc and small files. Any thread.
#ifndef LABVIRT_ENGINE_MGMT_PROCESS_UTIL_H_
#define LABVIRT_ENGINE_MGMT_PROCESS_UTIL_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::engine::mgmt {

// Starts argv[0] (a path, not searched on PATH) with stdin from /dev/null and stdout and stderr
// appended to `log_path`, in a new session (no terminal signal reaches it), with every signal at
// its default action and none blocked (labvirtd blocks the signals its reactor reads through
// signalfd; a child would inherit that), and no fd but 0..2 (closed from 3 on, whatever their
// CLOEXEC flag). Errors name the program: "run /usr/sbin/dnsmasq: No such file or directory".
Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

// pidfd_open(2) (5.3); close-on-exec.
Result<UniqueFd> OpenPidfd(pid_t pid);
// pidfd_send_signal(2) (5.1): no risk of signalling a recycled pid.
Status SignalPidfd(int pidfd, int signo);

// /proc/PID/cmdline split at its NULs; nullopt when the process does not exist.
std::optional<std::vector<std::string>> ProcessCmdline(pid_t pid);
// The pid in a pid file ("1234\n"); nullopt when missing or not a positive number.
std::optional<pid_t> ReadPidFile(const std::string& path);
// "exit code 2", "signal 9 (KILL)".
std::string DescribeWaitStatus(int status);

// Whole file, or nullopt when it cannot be read.
std::optional<std::string> ReadSmallFile(const std::string& path);
// The file's bytes from `offset` (at most the last `max` of them).
std::string ReadFileTail(const std::string& path, off_t offset, size_t max);
// Writes `path` through a temporary in the same directory and rename(2), so a reader (dnsmasq on
// SIGHUP) sees the old or the new content, never a part. No fsync: these files are rewritten at
// every start, so losing a write to a crash costs nothing, and fsync may stall the loop.
Status WriteFileAtomic(const std::string& path, const std::string& bytes);

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_PROCESS_UTIL_H_
