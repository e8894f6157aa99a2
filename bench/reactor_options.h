// The reactor options every benchmark uses: the daemon's defaults, except that the environment
// variable LABVIRT_BENCH_TASK_RUN (deferred, cooperative or interrupt) asks for another
// task-run mode, to measure one mode against another on the same build and host.
#ifndef LABVIRT_BENCH_REACTOR_OPTIONS_H_
#define LABVIRT_BENCH_REACTOR_OPTIONS_H_

#include <cstdlib>
#include <string_view>

#include "reactor/reactor.h"

namespace labvirt::bench {

inline reactor::ReactorOptions BenchReactorOptions() {
  reactor::ReactorOptions options;
  const char* env = std::getenv("LABVIRT_BENCH_TASK_RUN");
  std::string_view mode = env ? env : "";
  if (mode == "cooperative") options.task_run = reactor::TaskRun::kCooperative;
  if (mode == "interrupt") options.task_run = reactor::TaskRun::kInterrupt;
  return options;
}

inline const char* TaskRunName(reactor::TaskRun mode) {
  switch (mode) {
    case reactor::TaskRun::kDeferred:
      return "deferred task run";
    case reactor::TaskRun::kCooperative:
      return "cooperative task run";
    case reactor::TaskRun::kInterrupt:
      return "interrupt task run";
  }
  return "";
}

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_REACTOR_OPTIONS_H_
