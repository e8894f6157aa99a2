#include "engine/console/console_hub.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

constexpr size_t kRecvChunk = 4096;

}  // namespace

struct ConsoleHub::Viewer {
  ViewerId id = 0;
  UniqueFd fd;
  // Registered with the ring while attached: every send skips the kernel's fd lookup.
  reactor::RegisteredFile reg;
  bool writer = false;
  // Chunks waiting for the next send, oldest first. Each PTY read is one chunk shared by every
  // viewer (no copy per viewer); everything queued while a send is in flight leaves in the next
  // single vectored send.
  std::deque<reactor::SharedBytes> queue;
  size_t queued = 0;     // bytes in `queue`
  size_t in_flight = 0;  // bytes of the pending send
  size_t exempt = 0;     // scrollback bytes not yet sent (not counted against the limit)
  uint64_t sent = 0;
  uint64_t forwarded = 0;
  uint64_t discarded = 0;
  ScriptViewerCallbacks script;  // set for a script viewer (no fd)
  bool is_script = false;
  // Handles last: they die first.
  reactor::OpHandle send_op;
  reactor::OpHandle recv_op;
};

ConsoleHub::ConsoleHub(reactor::Reactor& reactor, std::string name, ConsoleHubOptions options,
                       ConsoleHubCallbacks callbacks)
    : reactor_(reactor),
      name_(std::move(name)),
      options_(options),
      callbacks_(std::move(callbacks)),
      scrollback_(options.scrollback_bytes),
      reader_(reactor,
              ConsoleReaderCallbacks{[this](std::string_view data) { OnPtyData(data); },
                                     [this](Status why) { OnPtyClosed(std::move(why)); }},
              options.reader) {}

ConsoleHub::~ConsoleHub() = default;

Status ConsoleHub::Open(const std::string& pty_path) { return reader_.Open(pty_path); }

Status ConsoleHub::Reopen(const std::string& pty_path) { return reader_.Reopen(pty_path); }

void ConsoleHub::ClosePty() { reader_.Close(); }

ConsoleHub::Viewer* ConsoleHub::Find(ViewerId id) {
  auto it = std::find(viewer_ids_.begin(), viewer_ids_.end(), id);
  return it == viewer_ids_.end() ? nullptr : viewers_[it - viewer_ids_.begin()].get();
}

Status ConsoleHub::CheckAttach(ViewerMode mode, bool force) const {
  size_t clients = 0;
  for (const auto& v : viewers_) clients += !v->is_script;
  if (clients >= options_.max_viewers) {
    return ResourceExhausted("console of " + name_ + ": at most " +
                             std::to_string(options_.max_viewers) +
                             " viewers at once; detach one first");
  }
  return CheckLease(mode, force);
}

Status ConsoleHub::CheckLease(ViewerMode mode, bool force) const {
  if (mode == ViewerMode::kReadWrite && lease_holder_ != 0 && !force) {
    return FailedPrecondition("console of " + name_ + ": the write lease is held by viewer " +
                              std::to_string(lease_holder_) +
                              "; attach read-only, or with force to take the lease");
  }
  return Status::Ok();
}

Result<ViewerId> ConsoleHub::Attach(UniqueFd socket, ViewerMode mode, bool force) {
  if (!socket) return InvalidArgument("console attach: invalid socket");
  LABVIRT_RETURN_IF_ERROR(CheckAttach(mode, force));
  // io_uring fails Send/Recv on an O_NONBLOCK socket with EAGAIN instead of waiting; the hub
  // relies on the ring to wait, so the socket must be blocking.
  int fl = ::fcntl(socket.get(), F_GETFL);
  if (fl < 0 || ::fcntl(socket.get(), F_SETFL, fl & ~O_NONBLOCK) < 0) {
    return Status::FromErrno(errno, "console attach: fcntl");
  }
  auto v = std::make_unique<Viewer>();
  v->id = next_id_++;
  v->fd = std::move(socket);
  v->reg = reactor::RegisteredFile(reactor_, v->fd.get());
  Viewer& viewer = *v;
  viewers_.push_back(std::move(v));
  viewer_ids_.push_back(viewer.id);
  if (mode == ViewerMode::kReadWrite) GiveLease(viewer);
  std::string scrollback = scrollback_.Contents();
  viewer.exempt = scrollback.size();
  if (!scrollback.empty()) {
    viewer.queued = scrollback.size();
    viewer.queue.push_back(std::make_shared<const std::string>(std::move(scrollback)));
  }
  StartSend(viewer);
  ArmRecv(viewer);
  return viewer.id;
}

void ConsoleHub::GiveLease(Viewer& v) {
  if (Viewer* old = Find(lease_holder_)) {
    old->writer = false;
    LogInfo("console write lease taken",
            {{"node", name_}, {"from", std::to_string(old->id)}, {"to", std::to_string(v.id)}});
    // A script cannot go on read-only: what it typed next would be lost silently.
    if (old->is_script) {
      Remove(old->id, "the write lease was taken by viewer " + std::to_string(v.id), true);
    }
  }
  v.writer = true;
  SetLease(v.id);
}

Result<ViewerId> ConsoleHub::AttachScript(ScriptViewerCallbacks callbacks) {
  LABVIRT_RETURN_IF_ERROR(CheckLease(ViewerMode::kReadWrite, false));
  auto v = std::make_unique<Viewer>();
  v->id = next_id_++;
  v->is_script = true;
  v->script = std::move(callbacks);
  Viewer& viewer = *v;
  viewers_.push_back(std::move(v));
  viewer_ids_.push_back(viewer.id);
  GiveLease(viewer);
  return viewer.id;
}

Status ConsoleHub::Type(ViewerId id, std::string bytes) {
  Viewer* v = Find(id);
  if (v == nullptr || !v->is_script || !v->writer) {
    return FailedPrecondition("console of " + name_ + ": viewer " + std::to_string(id) +
                              " is not a script holding the write lease");
  }
  if (!reader_.attached()) return FailedPrecondition("console of " + name_ + ": no PTY open");
  pty_writes_.push_back({id, std::move(bytes)});
  WriteNextToPty();
  return Status::Ok();
}

void ConsoleHub::OnPtyClosed(Status why) {
  std::vector<ViewerId> scripts;
  for (const auto& v : viewers_) {
    if (v->is_script) scripts.push_back(v->id);
  }
  for (ViewerId id : scripts) Remove(id, "the console closed: " + why.message(), true);
  if (callbacks_.on_pty_closed) callbacks_.on_pty_closed(std::move(why));
}

void ConsoleHub::Detach(ViewerId id, const std::string& reason) { Remove(id, reason, true); }

void ConsoleHub::SetLease(ViewerId holder) {
  if (holder == lease_holder_) return;
  lease_holder_ = holder;
  if (callbacks_.on_lease_changed) callbacks_.on_lease_changed(holder);
}

std::vector<ViewerInfo> ConsoleHub::viewers() const {
  std::vector<ViewerInfo> out;
  for (const auto& v : viewers_) {
    out.push_back(
        {v->id, v->writer, v->sent, v->queued + v->in_flight, v->forwarded, v->discarded});
  }
  return out;
}

void ConsoleHub::OnPtyData(std::string_view data) {
  scrollback_.Append(data);
  if (callbacks_.on_output) callbacks_.on_output(data);
  if (viewers_.empty()) return;
  const auto chunk = std::make_shared<const std::string>(data);
  std::vector<ViewerId> behind, scripts;
  for (const auto& v : viewers_) {
    if (v->is_script) {
      scripts.push_back(v->id);
      continue;
    }
    const size_t waiting = v->queued + v->in_flight;
    const size_t backlog = waiting - std::min(v->exempt, waiting);
    if (backlog + data.size() > options_.max_viewer_queue_bytes) {
      behind.push_back(v->id);
      continue;
    }
    v->queue.push_back(chunk);
    v->queued += chunk->size();
    if (!v->send_op.engaged()) StartSend(*v);
  }
  // After the walk: a script's callback may type, finish, or detach itself.
  for (ViewerId id : scripts) {
    if (Viewer* v = Find(id)) v->script.on_output(data);
  }
  for (ViewerId id : behind) {
    ++viewers_cut_off_;
    Remove(id,
           "viewer fell behind: more than " + std::to_string(options_.max_viewer_queue_bytes) +
               " bytes of console output queued for it",
           true);
  }
}

void ConsoleHub::StartSend(Viewer& v) {
  // Whole chunks up to max_send_bytes (at least one), within the kernel's iovec limit.
  constexpr size_t kMaxChunksPerSend = 512;
  std::vector<reactor::SharedBytes> out;
  size_t bytes = 0;
  while (!v.queue.empty() && out.size() < kMaxChunksPerSend &&
         (out.empty() || bytes + v.queue.front()->size() <= options_.max_send_bytes)) {
    bytes += v.queue.front()->size();
    out.push_back(std::move(v.queue.front()));
    v.queue.pop_front();
  }
  if (out.empty()) return;
  v.queued -= bytes;
  v.in_flight = bytes;
  const ViewerId id = v.id;
  // MSG_WAITALL: the ring retries a short stream send itself, so a send either takes everything
  // or fails.
  v.send_op = reactor_.SendChunks(
      v.fd.get(), std::move(out), [this, id](Result<size_t> sent) { OnSent(id, sent); },
      MSG_NOSIGNAL | MSG_WAITALL);
}

void ConsoleHub::OnSent(ViewerId id, Result<size_t> sent) {
  Viewer* v = Find(id);
  if (!v) return;
  // Completed: empty the handle, so that engaged() says no send is in flight (OnPtyData starts
  // the next send only then).
  v->send_op.Detach();
  if (!sent.ok()) {
    Remove(id, "send to viewer failed: " + sent.status().message(), true);
    return;
  }
  if (*sent < v->in_flight) {
    Remove(id, "viewer socket accepted only part of a send", true);
    return;
  }
  v->sent += *sent;
  v->exempt -= std::min(v->exempt, *sent);
  v->in_flight = 0;
  StartSend(*v);
}

void ConsoleHub::ArmRecv(Viewer& v) {
  const ViewerId id = v.id;
  v.recv_op = reactor_.Recv(v.fd.get(), kRecvChunk,
                            [this, id](Result<std::span<const char>> r) { OnRecv(id, r); });
}

void ConsoleHub::OnRecv(ViewerId id, Result<std::span<const char>> data) {
  Viewer* v = Find(id);
  if (!v) return;
  v->recv_op.Detach();
  if (!data.ok()) {
    Remove(id, "receive from viewer failed: " + data.status().message(), true);
    return;
  }
  if (data->empty()) {
    Remove(id, "viewer hung up", true);
    return;
  }
  if (!v->writer || !reader_.attached()) {
    v->discarded += data->size();
    ArmRecv(*v);
    return;
  }
  // Backpressure: the writer's socket is not read again until these bytes reached the PTY.
  pty_writes_.push_back({id, std::string(data->data(), data->size())});
  WriteNextToPty();
}

void ConsoleHub::WriteNextToPty() {
  while (!reader_.write_pending() && !pty_writes_.empty()) {
    PtyWrite w = std::move(pty_writes_.front());
    pty_writes_.pop_front();
    const ViewerId from = w.from;
    const size_t size = w.data.size();
    auto done = [this, from, size](Status s) {
      if (Viewer* v = Find(from)) {
        (s.ok() ? v->forwarded : v->discarded) += size;
        if (!v->is_script) ArmRecv(*v);
      }
      if (!s.ok()) LogWarn("console input not written", {{"node", name_}, {"error", s.message()}});
    };
    Status s = reader_.Write(std::move(w.data), [this, done](Status st) {
      done(std::move(st));
      WriteNextToPty();
    });
    if (!s.ok()) done(std::move(s));
  }
}

void ConsoleHub::Remove(ViewerId id, const std::string& reason, bool notify) {
  auto it = std::find(viewer_ids_.begin(), viewer_ids_.end(), id);
  if (it == viewer_ids_.end()) return;
  const auto index = it - viewer_ids_.begin();
  std::unique_ptr<Viewer> v = std::move(viewers_[index]);
  viewers_.erase(viewers_.begin() + index);
  viewer_ids_.erase(it);
  v->send_op.Cancel();
  v->recv_op.Cancel();
  v->reg.Reset();
  v->fd.Reset();
  std::erase_if(pty_writes_, [id](const PtyWrite& w) { return w.from == id; });
  LogInfo("console viewer closed",
          {{"node", name_}, {"viewer", std::to_string(id)}, {"reason", reason}});
  auto script_closed = std::move(v->script.on_closed);
  // We may be inside one of this viewer's callbacks: free it from a clean stack.
  reactor_.DeferDelete(std::move(v));
  if (lease_holder_ == id) SetLease(0);
  if (notify && script_closed) script_closed(reason);
  if (notify && callbacks_.on_viewer_closed) callbacks_.on_viewer_closed(id, reason);
}

}  // namespace labvirt::engine
