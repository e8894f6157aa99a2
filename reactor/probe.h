// Start-up probe: can this process use io_uring, and which optional kernel features are there?
//
// labvirtd calls ProbeIoUring() before anything else and exits non-zero with the returned
// message when it fails; the message names the cause (seccomp, sysctl, old kernel) and the fix.
#ifndef LABVIRT_REACTOR_PROBE_H_
#define LABVIRT_REACTOR_PROBE_H_

#include <string>

#include "reactor/base/status.h"

namespace labvirt::reactor {

struct KernelFeatures {
  int kernel_major = 0;
  int kernel_minor = 0;
  // IORING_OP_READ on a tty completes without io-wq worker threads only from 6.12 on; before
  // that, PTYs must be read with poll-then-read.
  bool direct_tty_read = false;
};

// Tries to set up a small ring and checks the opcodes labvirt needs. On failure the Status
// message is meant for a user: what is wrong and how to fix it.
Result<KernelFeatures> ProbeIoUring();

// Explains an io_uring_setup errno (`err` > 0) given the io_uring_disabled sysctl text (empty if
// unreadable). Exposed for tests.
std::string ExplainIoUringError(int err, const std::string& io_uring_disabled_sysctl);

}  // namespace labvirt::reactor

#endif  // LABVIRT_REACTOR_PROBE_H_
