// LibvirtEventImpl: libvirt's event loop (virEventRegisterImpl) implemented on the reactor, so
// libvirt's RPC sockets, keepalive timers and domain-event delivery run on the loop thread.
//
// Facts it is built on (libvirt 9.0): the six hooks are called from any thread, workers included,
// so they only edit a table under a lock and wake the loop; handles are level-triggered, so each
// is a one-shot poll re-armed after every dispatch; a timeout of 0 fires on every loop pass
// (libvirt toggles a 0/-1 timer to deliver each domain event); free callbacks (`ff`) run later
// from a clean stack, never inside a remove hook; the lock is never held while a libvirt callback
// runs.
//
// There is one per process (libvirt's hooks are global). Install() before any virConnectOpen.
// Close every libvirt connection before the reactor is destroyed.
#ifndef LABVIRT_PROVIDERS_LIBVIRT_EVENT_IMPL_H_
#define LABVIRT_PROVIDERS_LIBVIRT_EVENT_IMPL_H_

#include <libvirt/libvirt.h>

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "reactor/base/status.h"
#include "reactor/op_handle.h"
#include "reactor/reactor.h"

namespace labvirt::reactor {

class LibvirtEventImpl {
 public:
  // Creates the process-wide instance on `reactor` and registers it with libvirt. Loop thread.
  // Fails if called twice. `reactor` must outlive every libvirt connection.
  static Status Install(Reactor& reactor);
  // The installed instance, or nullptr.
  static LibvirtEventImpl* Get();

  // Registered handles and timeouts (for tests and metrics). Any thread.
  size_t handle_count() const;
  size_t timeout_count() const;

  // The hooks (public only so the C trampolines can reach them).
  int AddHandle(int fd, int events, virEventHandleCallback cb, void* opaque, virFreeCallback ff);
  void UpdateHandle(int watch, int events);
  int RemoveHandle(int watch);
  int AddTimeout(int interval_ms, virEventTimeoutCallback cb, void* opaque, virFreeCallback ff);
  void UpdateTimeout(int timer, int interval_ms);
  int RemoveTimeout(int timer);

 private:
  // Shared with other threads; guarded by mu_.
  struct HandleRecord {
    int fd;
    int events;  // VIR_EVENT_HANDLE_* wanted
    virEventHandleCallback cb;
    void* opaque;
    virFreeCallback ff;
    bool removed = false;
  };
  struct TimeoutRecord {
    int interval_ms;  // -1 disabled
    virEventTimeoutCallback cb;
    void* opaque;
    virFreeCallback ff;
    bool removed = false;
  };
  // Loop-thread only: what is armed in the reactor for each record.
  struct ArmedHandle {
    int events = 0;
    OpHandle poll;
  };
  struct ArmedTimeout {
    int interval_ms = -1;
    OpHandle timer;
  };

  explicit LibvirtEventImpl(Reactor& reactor) : reactor_(reactor) {}
  // Asks the loop to reconcile armed ops with the tables (coalesced; any thread).
  void ScheduleSync();
  // Loop thread: arms/cancels polls and timers to match the tables, frees removed records.
  void Sync();
  void OnPollReady(int watch, Result<uint32_t> revents);
  void OnTimer(int timer);

  Reactor& reactor_;
  mutable std::mutex mu_;
  std::map<int, HandleRecord> handles_;
  std::map<int, TimeoutRecord> timeouts_;
  int next_watch_ = 1;
  int next_timer_ = 1;
  std::atomic<bool> sync_scheduled_{false};

  std::map<int, ArmedHandle> armed_handles_;
  std::map<int, ArmedTimeout> armed_timeouts_;
};

// VIR_EVENT_HANDLE_* <-> poll(2) bits. Exposed for tests.
uint32_t VirEventsToPoll(int events);
int PollToVirEvents(uint32_t revents);

}  // namespace labvirt::reactor

#endif  // LABVIRT_PROVIDERS_LIBVIRT_EVENT_IMPL_H_
