#include "engine/daemon/loop_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

void SetNice(int nice) {
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

void SetRealtime(int priority) {
  if (priority == 0) return;
  sched_param param{};
  param.sched_priority = priority;
  // pid 0: the calling thread (sched_setscheduler(2) acts on a thread on Linux).
  if (::sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) != 0) {
    LogWarn("could not give the event loop a real-time priority; it stays in the fair scheduler",
            {{"priority", std::to_string(priority)}, {"error", std::strerror(errno)}});
    return;
  }
  LogInfo("event loop thread runs at a real-time priority",
          {{"policy", "SCHED_FIFO"}, {"priority", std::to_string(priority)}});
}

}  // namespace

void SetLoopThreadPriority(LoopPriority priority) {
  SetNice(priority.nice);
  SetRealtime(priority.realtime);
}

}  // namespace labvirt::engine
