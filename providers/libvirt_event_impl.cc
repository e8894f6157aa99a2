#include "providers/libvirt_event_impl.h"

#include <poll.h>

#include <chrono>

#include "reactor/base/log.h"

namespace labvirt::reactor {
namespace {

LibvirtEventImpl* g_impl = nullptr;

int AddHandleHook(int fd, int events, virEventHandleCallback cb, void* opaque, virFreeCallback ff) {
  return g_impl->AddHandle(fd, events, cb, opaque, ff);
}
void UpdateHandleHook(int watch, int events) { g_impl->UpdateHandle(watch, events); }
int RemoveHandleHook(int watch) { return g_impl->RemoveHandle(watch); }
int AddTimeoutHook(int interval, virEventTimeoutCallback cb, void* opaque, virFreeCallback ff) {
  return g_impl->AddTimeout(interval, cb, opaque, ff);
}
void UpdateTimeoutHook(int timer, int interval) { g_impl->UpdateTimeout(timer, interval); }
int RemoveTimeoutHook(int timer) { return g_impl->RemoveTimeout(timer); }

}  // namespace

uint32_t VirEventsToPoll(int events) {
  uint32_t out = 0;
  if (events & VIR_EVENT_HANDLE_READABLE) out |= POLLIN;
  if (events & VIR_EVENT_HANDLE_WRITABLE) out |= POLLOUT;
  if (events & VIR_EVENT_HANDLE_ERROR) out |= POLLERR;
  if (events & VIR_EVENT_HANDLE_HANGUP) out |= POLLHUP;
  return out;
}

int PollToVirEvents(uint32_t revents) {
  int out = 0;
  if (revents & POLLIN) out |= VIR_EVENT_HANDLE_READABLE;
  if (revents & POLLOUT) out |= VIR_EVENT_HANDLE_WRITABLE;
  if (revents & (POLLERR | POLLNVAL)) out |= VIR_EVENT_HANDLE_ERROR;
  if (revents & POLLHUP) out |= VIR_EVENT_HANDLE_HANGUP;
  return out;
}

Status LibvirtEventImpl::Install(Reactor& reactor) {
  if (g_impl != nullptr) return FailedPrecondition("libvirt event impl already installed");
  // Deliberately never freed: libvirt keeps calling the hooks until the process exits.
  g_impl = new LibvirtEventImpl(reactor);
  virEventRegisterImpl(AddHandleHook, UpdateHandleHook, RemoveHandleHook, AddTimeoutHook,
                       UpdateTimeoutHook, RemoveTimeoutHook);
  return Status::Ok();
}

LibvirtEventImpl* LibvirtEventImpl::Get() { return g_impl; }

size_t LibvirtEventImpl::handle_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, h] : handles_) n += h.removed ? 0 : 1;
  return n;
}

size_t LibvirtEventImpl::timeout_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, t] : timeouts_) n += t.removed ? 0 : 1;
  return n;
}

int LibvirtEventImpl::AddHandle(int fd, int events, virEventHandleCallback cb, void* opaque,
                                virFreeCallback ff) {
  int watch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch = next_watch_++;
    handles_[watch] = HandleRecord{fd, events, cb, opaque, ff};
  }
  ScheduleSync();
  return watch;
}

void LibvirtEventImpl::UpdateHandle(int watch, int events) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = handles_.find(watch);
    if (it == handles_.end() || it->second.removed) return;
    it->second.events = events;
  }
  ScheduleSync();
}

int LibvirtEventImpl::RemoveHandle(int watch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = handles_.find(watch);
    if (it == handles_.end() || it->second.removed) return -1;
    it->second.removed = true;
  }
  ScheduleSync();
  return 0;
}

int LibvirtEventImpl::AddTimeout(int interval_ms, virEventTimeoutCallback cb, void* opaque,
                                 virFreeCallback ff) {
  int timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timer = next_timer_++;
    timeouts_[timer] = TimeoutRecord{interval_ms, cb, opaque, ff};
  }
  ScheduleSync();
  return timer;
}

void LibvirtEventImpl::UpdateTimeout(int timer, int interval_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = timeouts_.find(timer);
    if (it == timeouts_.end() || it->second.removed) return;
    it->second.interval_ms = interval_ms;
  }
  ScheduleSync();
}

int LibvirtEventImpl::RemoveTimeout(int timer) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = timeouts_.find(timer);
    if (it == timeouts_.end() || it->second.removed) return -1;
    it->second.removed = true;
  }
  ScheduleSync();
  return 0;
}

void LibvirtEventImpl::ScheduleSync() {
  if (sync_scheduled_.exchange(true)) return;
  // On the loop thread the hook may run inside a libvirt callback: reconcile after it, at the end
  // of the pass. Elsewhere, wake the loop.
  if (reactor_.IsLoopThread()) {
    reactor_.Defer([this] { Sync(); });
  } else {
    reactor_.Post([this] { Sync(); });
  }
}

void LibvirtEventImpl::Sync() {
  sync_scheduled_.store(false);
  struct Freed {
    virFreeCallback ff;
    void* opaque;
  };
  std::vector<Freed> to_free;
  std::vector<std::pair<int, int>> want_handles;   // watch, events (0 = none)
  std::vector<std::pair<int, int>> want_timeouts;  // timer, interval (-1 = none)
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = handles_.begin(); it != handles_.end();) {
      if (it->second.removed) {
        if (it->second.ff) to_free.push_back({it->second.ff, it->second.opaque});
        want_handles.emplace_back(it->first, -1);
        it = handles_.erase(it);
      } else {
        want_handles.emplace_back(it->first, it->second.events);
        ++it;
      }
    }
    for (auto it = timeouts_.begin(); it != timeouts_.end();) {
      if (it->second.removed) {
        if (it->second.ff) to_free.push_back({it->second.ff, it->second.opaque});
        want_timeouts.emplace_back(it->first, -2);
        it = timeouts_.erase(it);
      } else {
        want_timeouts.emplace_back(it->first, it->second.interval_ms);
        ++it;
      }
    }
  }
  for (auto [watch, events] : want_handles) {
    if (events < 0) {
      armed_handles_.erase(watch);
      continue;
    }
    ArmedHandle& armed = armed_handles_[watch];
    if (armed.poll.engaged() && armed.events == events) continue;
    armed.poll.Cancel();
    armed.events = events;
    if (events == 0) continue;
    int fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fd = handles_.at(watch).fd;
    }
    // Init-captures: clang before 16 cannot capture a structured binding by name (P1091).
    armed.poll =
        reactor_.Poll(fd, VirEventsToPoll(events),
                      [this, watch = watch](Result<uint32_t> r) { OnPollReady(watch, r); });
  }
  for (auto [timer, interval] : want_timeouts) {
    if (interval == -2) {
      armed_timeouts_.erase(timer);
      continue;
    }
    ArmedTimeout& armed = armed_timeouts_[timer];
    if (armed.interval_ms == interval && (interval < 0 || armed.timer.engaged())) continue;
    armed.timer.Cancel();
    armed.interval_ms = interval;
    if (interval < 0) continue;
    armed.timer = reactor_.Every(std::chrono::milliseconds(interval),
                                 [this, timer = timer] { OnTimer(timer); });
  }
  // Free callbacks last, from this clean stack: they may re-enter libvirt and our hooks.
  for (const Freed& f : to_free) f.ff(f.opaque);
}

void LibvirtEventImpl::OnPollReady(int watch, Result<uint32_t> revents) {
  auto armed = armed_handles_.find(watch);
  if (armed != armed_handles_.end()) {
    // One-shot poll done; Detach() because the op finished (Cancel would be a harmless no-op).
    armed->second.poll.Detach();
  }
  int fd;
  virEventHandleCallback cb;
  void* opaque;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = handles_.find(watch);
    if (it == handles_.end() || it->second.removed) return;
    fd = it->second.fd;
    cb = it->second.cb;
    opaque = it->second.opaque;
  }
  int events = revents.ok() ? PollToVirEvents(*revents) : VIR_EVENT_HANDLE_ERROR;
  if (!revents.ok()) {
    LogWarn("libvirt handle poll failed",
            {{"watch", std::to_string(watch)}, {"error", revents.status().ToString()}});
  }
  cb(watch, fd, events, opaque);
  // Level-triggered: re-arm while the handle still wants events (if still readable, the new
  // poll completes at once).
  if (revents.ok()) ScheduleSync();
}

void LibvirtEventImpl::OnTimer(int timer) {
  virEventTimeoutCallback cb;
  void* opaque;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = timeouts_.find(timer);
    if (it == timeouts_.end() || it->second.removed || it->second.interval_ms < 0) return;
    cb = it->second.cb;
    opaque = it->second.opaque;
  }
  cb(timer, opaque);
}

}  // namespace labvirt::reactor
