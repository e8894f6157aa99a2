#include "engine/daemon/loop_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "reactor/base/log.h"

namespace labvirt::engine {

void SetLoopThreadNice(int nice) {
  if (nice == 0) return;
  // PRIO_PROCESS with a thread id reaches that one thread on Linux (setpriority(2), NOTES).
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int before = ::getpriority(PRIO_PROCESS, tid);
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
    LogWarn("could not set the event loop's nice value; it keeps its own",
            {{"nice", std::to_string(nice)}, {"error", std::strerror(errno)}});
    return;
  }
  LogInfo("event loop thread's nice value set",
          {{"from", std::to_string(before)}, {"to", std::to_string(nice)}});
}

}  // namespace labvirt::engine
