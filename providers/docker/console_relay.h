// ConsoleRelay: a container's console (Docker's hijacked attach stream, a socket) exposed to the
// rest of labvirt as a PTY, so the console hub opens a slave path as it does for a QEMU serial
// port and needs no second kind of console.
//
// What it owns: the stream socket, the PTY master, and one slave fd of its own. Holding a slave
// open means the master never sees a hang-up while labvirt's console reader closes and reopens
// the slave (a reader that detaches and comes back finds the relay still there). What it does not
// own: the reactor (must outlive the relay).
//
// Flow: socket -> master (the container's output, read from the slave) and master -> socket
// (what is written to the slave: keystrokes, pasted configs). Each way has a bounded buffer
// (ConsoleRelayOptions::buffer_bytes); when it is full the relay stops reading that side, so a
// slow console reader slows the container's output down instead of losing bytes.
//
// End: when the socket side ends (end of file or an error) the relay closes the master — readers
// of the slave then get EIO/hang-up, exactly as when QEMU exits — and calls on_closed once. A
// master error ends it the same way. With ConsoleRelayOptions::keep_pty the socket side's end
// only drops the socket (on_closed says so, each time) and Reattach hands it the next one.
// Loop thread only.
#ifndef LABVIRT_PROVIDERS_DOCKER_CONSOLE_RELAY_H_
#define LABVIRT_PROVIDERS_DOCKER_CONSOLE_RELAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::providers::docker {

struct ConsoleRelayOptions {
  // Bytes buffered each way before the relay stops reading that way's source.
  size_t buffer_bytes = size_t{1} << 20;
  // Largest single read from either side.
  size_t read_chunk = 64 * 1024;
  // Every byte from the socket is also appended here ("" = nowhere): the console log that
  // virtlogd keeps for a VM (console.tail, lab.cleanup), written by the relay for a container.
  std::string log_path;
  // Keep the PTY when the socket side ends: on_closed reports each end of a stream and the relay
  // waits, the PTY open, for the next one (Reattach). For an exec console, whose shell exits and
  // is started again: readers keep the same slave and never see a hang-up.
  bool keep_pty = false;
};

class ConsoleRelay {
 public:
  // Opens a PTY pair (raw mode) and starts relaying at once. `stream` is a connected stream
  // socket (blocking or not; the relay makes it blocking, since io_uring waits for it);
  // `pending` are bytes already read from it (e.g. behind Docker's HTTP upgrade answer), given to
  // the PTY first. `on_closed` runs once, from a timer of its own in the pass after the socket
  // side ended (OK at end of file, the error otherwise); it may destroy the relay. Never called
  // after the relay is destroyed, nor from Start. `reactor` must outlive the relay.
  static Result<std::unique_ptr<ConsoleRelay>> Start(reactor::Reactor& reactor, UniqueFd stream,
                                                     std::string pending,
                                                     std::function<void(Status)> on_closed,
                                                     ConsoleRelayOptions options = {});
  // Cancels every op and closes the socket and the PTY; no callback runs after.
  ~ConsoleRelay();
  ConsoleRelay(const ConsoleRelay&) = delete;
  ConsoleRelay& operator=(const ConsoleRelay&) = delete;

  // The slave's path ("/dev/pts/N"), for labvirt's console reader. Stays the same for the relay's
  // life; after the end, opening it fails (the PTY is gone).
  const std::string& slave_path() const { return slave_path_; }
  uint64_t bytes_out() const { return bytes_out_; }  // socket -> pty
  uint64_t bytes_in() const { return bytes_in_; }    // pty -> socket
  bool closed() const { return closed_; }
  // Whether a stream is attached (false between the end of one and Reattach, with keep_pty).
  bool has_stream() const { return stream_.valid(); }

  // With keep_pty, after on_closed reported the end of the stream: relays `stream` (with
  // `pending`, as Start) into the same PTY. What readers wrote meanwhile goes to the new stream.
  // FailedPrecondition when the relay is closed or still has a stream.
  Status Reattach(UniqueFd stream, std::string pending);

 private:
  ConsoleRelay(reactor::Reactor& reactor, UniqueFd stream, UniqueFd master, UniqueFd slave,
               std::string slave_path, std::function<void(Status)> on_closed,
               ConsoleRelayOptions options);

  // socket -> master
  void ArmSocketRead();
  void FlushToPty();
  // Appends `bytes` to the console log, if any. A failing log is dropped, not the console.
  void Log(std::string_view bytes);
  // master -> socket
  void ArmPtyRead();
  void OnPtyReadable();
  void FlushToSocket();
  // Closes everything and reports `why` to on_closed from a timer (a clean stack).
  void Finish(Status why);
  // The socket side ended: Finish, or with keep_pty drop only the stream and report `why`.
  void EndStream(Status why);
  // Reports `why` to on_closed from a timer (a clean stack); `last`: on_closed is then dropped.
  void Report(Status why, bool last);

  reactor::Reactor& reactor_;
  const ConsoleRelayOptions options_;
  UniqueFd stream_;
  UniqueFd master_;
  UniqueFd slave_;  // held, never read: keeps the master from seeing a hang-up
  UniqueFd log_;    // options_.log_path, append-only (invalid: no log)
  std::string slave_path_;
  std::function<void(Status)> on_closed_;
  bool closed_ = false;

  std::string to_pty_;   // read from the socket, not yet written to the master
  std::string to_sock_;  // read from the master, not yet sent (the head may be in flight)
  bool sending_ = false;
  std::string read_buf_;
  uint64_t bytes_out_ = 0;
  uint64_t bytes_in_ = 0;

  // Declared last: they die first, before the buffers their callbacks use.
  reactor::OpHandle sock_read_op_;
  reactor::OpHandle sock_send_op_;
  reactor::OpHandle pty_read_op_;
  reactor::OpHandle pty_write_op_;
  reactor::OpHandle closed_op_;
};

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_CONSOLE_RELAY_H_
