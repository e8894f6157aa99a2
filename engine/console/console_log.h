// ConsoleLog: the persistent console log kept by virtlogd (<serial><log file=… append='on'/>),
// read back for console.tail — also for a stopped node, whose PTY is gone.
//
// virtlogd rotates FILE to FILE.0, FILE.1, …; when FILE alone is shorter than asked, the tail of
// FILE.0 is put in front of it.
#ifndef LABVIRT_ENGINE_CONSOLE_CONSOLE_LOG_H_
#define LABVIRT_ENGINE_CONSOLE_CONSOLE_LOG_H_

#include <functional>
#include <string>

#include "reactor/base/status.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class ConsoleLog {
 public:
  // Largest tail a caller may ask for.
  static constexpr size_t kMaxTailBytes = 16 * 1024 * 1024;

  // Blocking file I/O: worker threads only (or tests). The last `max_bytes` bytes of the log.
  // NotFound if neither the log nor its rotated predecessor exists; InvalidArgument if
  // `max_bytes` exceeds kMaxTailBytes or `path` is not absolute.
  static Result<std::string> ReadTail(const std::string& path, size_t max_bytes);

  // Runs ReadTail on `pool` and calls `done` on the loop thread. Fails (without calling `done`)
  // only when the pool's queue is full. `done` may run after the requester is gone: capture ids.
  static Status Tail(reactor::WorkerPool& pool, std::string path, size_t max_bytes,
                     std::function<void(Result<std::string>)> done);
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CONSOLE_LOG_H_
