#include "reactor/probe.h"

#include <liburing.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace labvirt::reactor {
namespace {

std::string ReadSysctl(const char* path) {
  std::ifstream in(path);
  std::string value;
  if (in) std::getline(in, value);
  return value;
}

}  // namespace

std::string ExplainIoUringError(int err, const std::string& sysctl) {
  std::string msg = "io_uring is unavailable (" + std::string(std::strerror(err)) + "): ";
  if (sysctl == "2") {
    return msg +
           "the sysctl kernel.io_uring_disabled=2 forbids it for every process; run "
           "`sysctl -w kernel.io_uring_disabled=0` as root";
  }
  if (sysctl == "1" && err == EPERM) {
    return msg +
           "kernel.io_uring_disabled=1 allows it only to root and members of "
           "kernel.io_uring_group; run labvirtd as root, add its user to that group, or "
           "set `sysctl -w kernel.io_uring_disabled=0`";
  }
  if (err == ENOSYS) {
    return msg +
           "the kernel lacks io_uring (Linux 5.19 or newer is required) or a seccomp "
           "filter hides it";
  }
  if (err == EPERM) {
    return msg +
           "a seccomp filter blocks io_uring_setup — Docker's default profile does; run "
           "the container with a profile that allows io_uring_setup, io_uring_enter and "
           "io_uring_register (e.g. --security-opt seccomp=unconfined)";
  }
  if (err == ENOMEM) {
    return msg +
           "the kernel could not allocate the ring; raise RLIMIT_MEMLOCK "
           "(ulimit -l) or free memory";
  }
  return msg + "check the kernel version (5.19+) and security policy";
}

Result<KernelFeatures> ProbeIoUring() {
  KernelFeatures features;
  utsname uts{};
  if (uname(&uts) == 0) {
    std::sscanf(uts.release, "%d.%d", &features.kernel_major, &features.kernel_minor);
  }
  io_uring ring;
  int ret = io_uring_queue_init(4, &ring, 0);
  if (ret < 0) {
    return FailedPrecondition(
        ExplainIoUringError(-ret, ReadSysctl("/proc/sys/kernel/io_uring_disabled")));
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  std::string missing;
  if (probe == nullptr) {
    missing = "IORING_REGISTER_PROBE";
  } else {
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_READ, "READ"},         {IORING_OP_WRITE, "WRITE"},
        {IORING_OP_READV, "READV"},       {IORING_OP_WRITEV, "WRITEV"},
        {IORING_OP_SEND, "SEND"},         {IORING_OP_RECV, "RECV"},
        {IORING_OP_SENDMSG, "SENDMSG"},   {IORING_OP_ACCEPT, "ACCEPT"},
        {IORING_OP_CONNECT, "CONNECT"},   {IORING_OP_NOP, "NOP"},
    };
    for (const auto& [op, name] : needed) {
      if (!io_uring_opcode_supported(probe, op))
        missing += std::string(missing.empty() ? "" : ", ") + name;
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  if (!missing.empty()) {
    return FailedPrecondition("io_uring lacks opcodes labvirt needs (" + missing +
                              "); Linux 5.19 or newer is required");
  }
  // Multishot poll (5.13) and multishot accept (5.19) have no probe bit; require the version.
  if (features.kernel_major < 5 || (features.kernel_major == 5 && features.kernel_minor < 19)) {
    return FailedPrecondition("kernel " + std::string(uts.release) +
                              " is too old: labvirt needs Linux 5.19 or newer for io_uring "
                              "multishot poll and accept");
  }
  features.direct_tty_read =
      features.kernel_major > 6 || (features.kernel_major == 6 && features.kernel_minor >= 12);
  return features;
}

}  // namespace labvirt::reactor
