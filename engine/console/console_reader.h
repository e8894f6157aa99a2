// ConsoleReader: the one reader of a VM's serial console PTY. Opens the slave end that QEMU's pty
// chardev exposes (/dev/pts/N, path from the live domain XML) O_NONBLOCK|O_NOCTTY in raw mode,
// reads it on the reactor and hands every byte to its owner; also writes input to the PTY with
// backpressure (one write at a time).
//
// Reading: a one-shot POLLIN, read() until EAGAIN, re-armed after each drain (portable, works on
// Debian 12's 6.1; see console_reader.cc for why not multishot). With
// options.direct_read — only when reactor::ProbeIoUring() reported direct_tty_read (kernel ≥ 6.12,
// where a tty read completes without an io-wq worker) — a second, blocking descriptor of the same
// PTY is read with chained io_uring Read ops instead.
//
// No lost byte at boot: Open() returns only after the PTY is open and reading is armed, so
// attached() is true synchronously once Open() succeeded; the engine resumes the paused VM then.
// QEMU gone (EOF, EIO, POLLHUP) is not an error for anyone else: the reader closes its fds and
// reports it once through on_closed; Reopen(new_path) after the VM restarts.
//
// What it does not own: the reactor (must outlive it). Thread: loop thread only.
// Callbacks run on the loop thread; they must not destroy the reader (defer that), but on_closed
// may call Reopen().
#ifndef LABVIRT_ENGINE_CONSOLE_CONSOLE_READER_H_
#define LABVIRT_ENGINE_CONSOLE_CONSOLE_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "reactor/base/status.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::engine {

struct ConsoleReaderOptions {
  // Use chained io_uring Read ops (only if the probe said direct_tty_read).
  bool direct_read = false;
  // Bytes per read() / Read op. A tty read returns at most what n_tty's 4 KiB buffer holds
  // (4095 bytes, measured on 6.1 and 6.18), so a bigger buffer is memory for nothing — and it is
  // held per console (issue 20: 64 KiB per node at 5000 nodes).
  size_t read_chunk = 4096;
};

struct ConsoleReaderCallbacks {
  // Bytes read from the console; valid during the call only.
  std::function<void(std::string_view)> on_data;
  // The PTY ended (QEMU exited: EOF, EIO or hang-up) or failed; the reader is detached.
  std::function<void(Status)> on_closed;
};

class ConsoleReader {
 public:
  // `reactor` must outlive the reader.
  ConsoleReader(reactor::Reactor& reactor, ConsoleReaderCallbacks callbacks,
                ConsoleReaderOptions options = {});
  ConsoleReader(const ConsoleReader&) = delete;
  ConsoleReader& operator=(const ConsoleReader&) = delete;

  // Opens `path` and starts reading. FailedPrecondition if already attached; the OS error
  // (with the path) if it cannot be opened or is not a tty.
  Status Open(const std::string& path);
  // Closes the current PTY, if any, and opens `path` (a restarted VM gets a new pts number).
  Status Reopen(const std::string& path);
  // Stops reading and closes the PTY; a pending write's callback gets kCancelled. No on_closed.
  void Close();

  bool attached() const { return fd_.valid(); }
  const std::string& path() const { return path_; }

  // Writes all of `data` to the PTY, then calls done(OK) — or done(error) if the PTY failed or
  // closed first. Only one write at a time: FailedPrecondition while write_pending() or when not
  // attached (then `done` is not called). `done` may run before Write() returns.
  Status Write(std::string data, std::function<void(Status)> done);
  bool write_pending() const { return static_cast<bool>(write_done_); }

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void ArmPoll();
  void OnReadable();
  void ArmDirectRead();
  // Closes everything and reports `why` through on_closed.
  void Detach(Status why);
  // Writes as much of write_buf_ as the PTY takes; waits for POLLOUT for the rest.
  void ContinueWrite();
  void FinishWrite(Status status);

  reactor::Reactor& reactor_;
  ConsoleReaderCallbacks callbacks_;
  ConsoleReaderOptions options_;
  std::string path_;
  UniqueFd fd_;       // O_NONBLOCK: reads (poll mode) and writes
  UniqueFd read_fd_;  // blocking: direct-read mode only
  // Both registered with the ring while open (no fd lookup per poll/read op); after the fds, so
  // they are unregistered before the fds close.
  reactor::RegisteredFile fd_reg_;
  reactor::RegisteredFile read_reg_;
  std::string read_buf_;
  std::string write_buf_;
  size_t write_pos_ = 0;
  std::function<void(Status)> write_done_;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t generation_ = 0;  // bumped per open: a stale completion is recognised and ignored
  // Handles last: they die first.
  reactor::OpHandle read_op_;
  reactor::OpHandle write_op_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CONSOLE_READER_H_
