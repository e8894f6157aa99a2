// ConsoleHub: one node's serial console shared by any number of viewers. Owns the node's
// ConsoleReader; every byte read from the PTY goes to the owner (for readiness), into a
// scrollback ring, and to every viewer's bounded send queue.
//
// Viewers are connected sockets (the control server hands them over after its JSON reply to
// console.attach); the hub owns each as a UniqueFd, writes to it with vectored reactor sends of
// the PTY reads it shares between viewers (SendChunks: one copy of each read, whatever the
// number of viewers) and reads its input with Recv ops. A late joiner first receives the
// scrollback, then live output.
//
// Never blocks, never freezes: a viewer whose queue would exceed max_viewer_queue_bytes is
// disconnected (log + on_viewer_closed with the reason) — the PTY reader and the other viewers
// never wait for it.
//
// Write lease: at most one viewer's input reaches the PTY. The first read-write viewer holds the
// lease; while it is held, a read-write attach fails (FailedPrecondition) unless `force`, which
// moves the lease to the newcomer and turns the old holder read-only (it keeps receiving output;
// its input is discarded from then on; on_lease_changed tells the engine). Input from a read-only
// viewer is discarded and counted. Backpressure: while the writer's bytes are being written to
// the PTY the hub does not read more from the writer's socket.
//
// Scripts: labvirt's own console scripts (engine/console/cli_session.h) attach as in-process
// read-write viewers (AttachScript): no socket; output reaches them by callback, their input by
// Type(). They take the lease like any read-write viewer and never force it: a person holding it
// is not typed over. A person who forces the lease away from a script, or the PTY closing, ends
// the script viewer (its on_closed says why).
//
// What it does not own: the reactor (must outlive the hub). Thread: loop thread only.
// Callbacks refer to viewers by id; they must not destroy the hub synchronously.
#ifndef LABVIRT_ENGINE_CONSOLE_CONSOLE_HUB_H_
#define LABVIRT_ENGINE_CONSOLE_CONSOLE_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/console/console_reader.h"
#include "engine/console/console_scrollback.h"
#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

using ViewerId = uint64_t;  // never 0; unique per hub

enum class ViewerMode { kReadOnly, kReadWrite };

struct ConsoleHubOptions {
  size_t scrollback_bytes = 256 * 1024;
  // A viewer with more than this many bytes waiting to be sent is cut off. The scrollback sent
  // to a late joiner does not count against it.
  size_t max_viewer_queue_bytes = 1024 * 1024;
  // Largest single Send to a viewer.
  size_t max_send_bytes = 256 * 1024;
  // Client viewers (console.attach) of one console at once: each holds a socket and up to
  // max_viewer_queue_bytes, so one client cannot pile them up. Script viewers do not count.
  size_t max_viewers = 64;
  ConsoleReaderOptions reader;
};

struct ConsoleHubCallbacks {
  // Every byte read from the PTY, in order (feed the ReadinessTracker here). Optional.
  std::function<void(std::string_view)> on_output;
  // The PTY ended (VM gone); viewers stay connected and see output again after Reopen(). Optional.
  std::function<void(Status)> on_pty_closed;
  // A viewer left: it hung up, failed, was detached, or fell behind (`reason` says which).
  // Optional.
  std::function<void(ViewerId, const std::string& reason)> on_viewer_closed;
  // The lease moved; `holder` is 0 when nobody holds it. Optional.
  std::function<void(ViewerId holder)> on_lease_changed;
};

struct ScriptViewerCallbacks {
  std::function<void(std::string_view)> on_output;  // every PTY read after the attach
  // The viewer is gone (lease forced away, PTY closed, Detach); not called from the destructor.
  std::function<void(const std::string& reason)> on_closed;
};

struct ViewerInfo {
  ViewerId id = 0;
  bool writer = false;
  uint64_t bytes_sent = 0;
  size_t bytes_queued = 0;
  uint64_t input_forwarded = 0;  // bytes of input written to the PTY
  uint64_t input_discarded = 0;  // bytes of input dropped (read-only, or no PTY)
};

class ConsoleHub {
 public:
  // `reactor` must outlive the hub. `name` (the node) appears in logs.
  ConsoleHub(reactor::Reactor& reactor, std::string name, ConsoleHubOptions options,
             ConsoleHubCallbacks callbacks);
  // Closes the PTY and every viewer (no callbacks).
  ~ConsoleHub();
  ConsoleHub(const ConsoleHub&) = delete;
  ConsoleHub& operator=(const ConsoleHub&) = delete;

  // Attaches the PTY reader (see ConsoleReader::Open); attached() is true once it returns OK.
  Status Open(const std::string& pty_path);
  // After a VM restart: the new PTY. Scrollback and viewers are kept.
  Status Reopen(const std::string& pty_path);
  void ClosePty();
  bool attached() const { return reader_.attached(); }

  // Whether Attach(mode, force) would succeed now: lets the control server answer its JSON reply
  // before handing over the socket. ResourceExhausted when max_viewers client viewers are
  // attached; FailedPrecondition when read-write is asked while another holds the lease.
  Status CheckAttach(ViewerMode mode, bool force) const;
  // Takes `socket` (a connected stream socket), queues the scrollback to it, and starts
  // forwarding. Fails (closing nothing: the fd is dropped, i.e. closed) as CheckAttach says, or
  // with InvalidArgument for an invalid fd.
  Result<ViewerId> Attach(UniqueFd socket, ViewerMode mode, bool force);
  // Attaches an in-process read-write viewer holding the lease (see "Scripts" above); it sees
  // output from now on, not the scrollback. FailedPrecondition while anyone holds the lease.
  Result<ViewerId> AttachScript(ScriptViewerCallbacks callbacks);
  // Queues `bytes` to the PTY as script viewer `id`'s input. FailedPrecondition when `id` is not
  // an attached script viewer holding the lease, or no PTY is open.
  Status Type(ViewerId id, std::string bytes);
  // Disconnects a viewer (on_viewer_closed is called with `reason`). Unknown ids are ignored.
  void Detach(ViewerId id, const std::string& reason = "detached");

  ViewerId lease_holder() const { return lease_holder_; }
  size_t viewer_count() const { return viewers_.size(); }
  std::vector<ViewerInfo> viewers() const;
  std::string Scrollback() const { return scrollback_.Contents(); }
  uint64_t bytes_read() const { return reader_.bytes_read(); }
  // Bytes of memory the scrollback ring takes now (it grows with what it holds).
  size_t scrollback_allocated() const { return scrollback_.allocated(); }
  uint64_t viewers_cut_off() const { return viewers_cut_off_; }

 private:
  struct Viewer;
  struct PtyWrite {
    ViewerId from;
    std::string data;
  };

  void OnPtyData(std::string_view data);
  // The reader lost the PTY: script viewers end (nobody would answer them), socket viewers stay.
  void OnPtyClosed(Status why);
  // Sends what is queued for `v` (at most max_send_bytes) unless a Send is in flight.
  void StartSend(Viewer& v);
  void OnSent(ViewerId id, Result<size_t> sent);
  void ArmRecv(Viewer& v);
  void OnRecv(ViewerId id, Result<std::span<const char>> data);
  void WriteNextToPty();
  // Takes the lease for `v`; the old holder turns read-only (a script holder is removed).
  void GiveLease(Viewer& v);
  // Removes a viewer now; its memory is freed at the end of the loop pass (we may be inside one
  // of its callbacks).
  void Remove(ViewerId id, const std::string& reason, bool notify);
  void SetLease(ViewerId holder);
  Viewer* Find(ViewerId id);

  reactor::Reactor& reactor_;
  std::string name_;
  ConsoleHubOptions options_;
  ConsoleHubCallbacks callbacks_;
  ConsoleScrollback scrollback_;
  // In attach (= id) order. Flat vectors: a console has a handful of viewers, each PTY read
  // walks all of them, and each completion finds its viewer by id in the contiguous id list
  // without touching the other viewers.
  // The write lease part of CheckAttach (scripts attach under it alone).
  Status CheckLease(ViewerMode mode, bool force) const;

  std::vector<std::unique_ptr<Viewer>> viewers_;
  std::vector<ViewerId> viewer_ids_;  // viewer_ids_[i] == viewers_[i]->id
  ViewerId next_id_ = 1;
  ViewerId lease_holder_ = 0;
  uint64_t viewers_cut_off_ = 0;
  std::deque<PtyWrite> pty_writes_;  // at most one entry per viewer: its recv waits meanwhile
  ConsoleReader reader_;             // last: its callbacks use the members above
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CONSOLE_HUB_H_
