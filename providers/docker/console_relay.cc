#include "providers/docker/console_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace labvirt::providers::docker {

Result<std::unique_ptr<ConsoleRelay>> ConsoleRelay::Start(reactor::Reactor& reactor,
                                                          UniqueFd stream, std::string pending,
                                                          std::function<void(Status)> on_closed,
                                                          ConsoleRelayOptions options) {
  if (!stream) return InvalidArgument("console relay: no stream socket");
  // io_uring fails a recv on a non-blocking socket with EAGAIN instead of waiting for data.
  const int fl = ::fcntl(stream.get(), F_GETFL);
  if (fl < 0 || ::fcntl(stream.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return Status::FromErrno(errno, "console relay: fcntl on the stream socket");
  }
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!master) return Status::FromErrno(errno, "console relay: posix_openpt");
  if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) {
    return Status::FromErrno(errno, "console relay: grantpt/unlockpt");
  }
  char name[64];
  if (int err = ::ptsname_r(master.get(), name, sizeof name); err != 0) {
    return Status::FromErrno(err, "console relay: ptsname");
  }
  UniqueFd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Status::FromErrno(errno, std::string("console relay: open ") + name);
  // Raw: the container's bytes reach readers unchanged, and what readers write is not echoed
  // back to them by the line discipline (the container's own shell echoes).
  termios tio{};
  if (::tcgetattr(slave.get(), &tio) != 0) return Status::FromErrno(errno, "tcgetattr");
  ::cfmakeraw(&tio);
  if (::tcsetattr(slave.get(), TCSANOW, &tio) != 0) return Status::FromErrno(errno, "tcsetattr");
  std::unique_ptr<ConsoleRelay> relay(new ConsoleRelay(reactor, std::move(stream),
                                                       std::move(master), std::move(slave), name,
                                                       std::move(on_closed), options));
  if (!options.log_path.empty()) {
    relay->log_ = UniqueFd(::open(options.log_path.c_str(),
                                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
  }
  relay->Log(pending);
  relay->to_pty_ = std::move(pending);
  relay->FlushToPty();
  relay->ArmSocketRead();
  relay->ArmPtyRead();
  return relay;
}

ConsoleRelay::ConsoleRelay(reactor::Reactor& reactor, UniqueFd stream, UniqueFd master,
                           UniqueFd slave, std::string slave_path,
                           std::function<void(Status)> on_closed, ConsoleRelayOptions options)
    : reactor_(reactor),
      options_(options),
      stream_(std::move(stream)),
      master_(std::move(master)),
      slave_(std::move(slave)),
      slave_path_(std::move(slave_path)),
      on_closed_(std::move(on_closed)) {}

ConsoleRelay::~ConsoleRelay() {
  // Ops first (they refer to the fds), then the fds (members' order does the rest).
  sock_read_op_.Cancel();
  sock_send_op_.Cancel();
  pty_read_op_.Cancel();
  pty_write_op_.Cancel();
  closed_op_.Cancel();
}

// ---- socket -> master ----

void ConsoleRelay::ArmSocketRead() {
  if (closed_ || !stream_ || sock_read_op_.engaged() || to_pty_.size() >= options_.buffer_bytes) {
    return;
  }
  const size_t room = std::min(options_.read_chunk, options_.buffer_bytes - to_pty_.size());
  sock_read_op_ = reactor_.Recv(stream_.get(), room, [this](Result<std::span<const char>> r) {
    sock_read_op_ = reactor::OpHandle();
    if (!r.ok()) {
      EndStream(r.status().WithContext("console stream"));
      return;
    }
    if (r->empty()) {
      EndStream(Status::Ok());
      return;
    }
    Log(std::string_view(r->data(), r->size()));
    to_pty_.append(r->data(), r->size());
    FlushToPty();
    if (!closed_) ArmSocketRead();
  });
}

void ConsoleRelay::FlushToPty() {
  while (!to_pty_.empty() && !closed_) {
    const ssize_t n = ::write(master_.get(), to_pty_.data(), to_pty_.size());
    if (n > 0) {
      to_pty_.erase(0, static_cast<size_t>(n));
      bytes_out_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // The slave's input queue is full (nobody reads the console): wait for room.
      if (pty_write_op_.engaged()) return;
      pty_write_op_ = reactor_.Poll(master_.get(), POLLOUT, [this](Result<uint32_t> rev) {
        pty_write_op_ = reactor::OpHandle();
        if (!rev.ok()) {
          Finish(rev.status().WithContext("poll pty master for writing"));
          return;
        }
        FlushToPty();
        if (!closed_) ArmSocketRead();
      });
      return;
    }
    Finish(Status::FromErrno(n < 0 ? errno : EIO, "write pty master " + slave_path_));
    return;
  }
}

void ConsoleRelay::Log(std::string_view bytes) {
  // A local file's append lands in the page cache: no wait worth a worker (console rates).
  while (log_.valid() && !bytes.empty()) {
    ssize_t n = ::write(log_.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log_.Reset();
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// ---- master -> socket ----

// A one-shot poll re-armed after each drain, as engine/console/console_reader.cc does for the
// same reason: tty wake-ups race with the drain, and a poll armed late checks readiness at once.
void ConsoleRelay::ArmPtyRead() {
  if (closed_ || pty_read_op_.engaged() || to_sock_.size() >= options_.buffer_bytes) return;
  pty_read_op_ = reactor_.Poll(master_.get(), POLLIN, [this](Result<uint32_t> rev) {
    pty_read_op_ = reactor::OpHandle();
    if (!rev.ok()) {
      Finish(rev.status().WithContext("poll pty master"));
      return;
    }
    const uint64_t before = to_sock_.size() + bytes_in_;
    OnPtyReadable();
    // A hang-up with nothing to read would complete every re-armed poll at once: a busy loop.
    // It cannot happen while slave_ is held, unless someone hung the tty up (vhangup).
    if (!closed_ && (*rev & (POLLHUP | POLLERR)) && to_sock_.size() + bytes_in_ == before) {
      Finish(Unavailable("pty " + slave_path_ + " hung up"));
    }
    if (!closed_) ArmPtyRead();
  });
}

void ConsoleRelay::OnPtyReadable() {
  while (!closed_ && to_sock_.size() < options_.buffer_bytes) {
    read_buf_.resize(std::min(options_.read_chunk, options_.buffer_bytes - to_sock_.size()));
    const ssize_t n = ::read(master_.get(), read_buf_.data(), read_buf_.size());
    if (n > 0) {
      to_sock_.append(read_buf_.data(), static_cast<size_t>(n));
      FlushToSocket();
      if (static_cast<size_t>(n) < read_buf_.size()) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    // The relay holds a slave open, so EIO (no slave left) means something closed it under us.
    Finish(Status::FromErrno(n < 0 ? errno : EIO, "read pty master " + slave_path_));
    return;
  }
}

void ConsoleRelay::FlushToSocket() {
  if (closed_ || !stream_ || sending_ || to_sock_.empty()) return;
  sending_ = true;
  sock_send_op_ = reactor_.Send(stream_.get(), to_sock_.substr(0, options_.read_chunk * 4),
                                [this](Result<size_t> n) {
                                  sock_send_op_ = reactor::OpHandle();
                                  sending_ = false;
                                  if (!n.ok()) {
                                    EndStream(n.status().WithContext("console stream send"));
                                    return;
                                  }
                                  to_sock_.erase(0, *n);
                                  bytes_in_ += *n;
                                  FlushToSocket();
                                  ArmPtyRead();
                                });
}

void ConsoleRelay::Finish(Status why) {
  if (closed_) return;
  closed_ = true;
  sock_read_op_.Cancel();
  sock_send_op_.Cancel();
  pty_read_op_.Cancel();
  pty_write_op_.Cancel();
  // What the container said last goes to the slave if it fits now; waiting for a reader that may
  // never come would keep the console open after the container is gone.
  if (!to_pty_.empty()) {
    const ssize_t n = ::write(master_.get(), to_pty_.data(), to_pty_.size());
    if (n > 0) bytes_out_ += static_cast<uint64_t>(n);
  }
  to_pty_.clear();
  to_sock_.clear();
  slave_.Reset();
  master_.Reset();
  stream_.Reset();
  Report(std::move(why), true);
}

void ConsoleRelay::EndStream(Status why) {
  if (!options_.keep_pty) return Finish(std::move(why));
  sock_read_op_.Cancel();
  sock_send_op_.Cancel();
  sending_ = false;
  // Input meant for the shell that ended (its own `exit`) is not replayed into the next one.
  to_sock_.clear();
  stream_.Reset();
  Report(std::move(why), false);
}

Status ConsoleRelay::Reattach(UniqueFd stream, std::string pending) {
  if (closed_ || stream_) return FailedPrecondition("console relay: closed or still attached");
  if (!stream) return InvalidArgument("console relay: no stream socket");
  const int fl = ::fcntl(stream.get(), F_GETFL);
  if (fl < 0 || ::fcntl(stream.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return Status::FromErrno(errno, "console relay: fcntl on the stream socket");
  }
  stream_ = std::move(stream);
  Log(pending);
  to_pty_.append(pending);
  FlushToPty();
  ArmSocketRead();
  ArmPtyRead();
  FlushToSocket();
  return Status::Ok();
}

void ConsoleRelay::Report(Status why, bool last) {
  // Reported from a timer of its own, not from here: Finish and EndStream run inside op
  // callbacks whose callers still use the relay, and on_closed may destroy it. The timer's
  // callback is the last thing on its stack (the reactor moves it out before running it), and
  // the destructor cancels it if the relay dies first.
  closed_op_ = reactor_.After(reactor::Duration::zero(), [this, why = std::move(why), last] {
    if (last) {
      auto cb = std::move(on_closed_);
      on_closed_ = nullptr;
      if (cb) cb(why);
    } else if (on_closed_) {
      // A copy: on_closed may destroy the relay, and with it on_closed_.
      auto cb = on_closed_;
      cb(why);
    }
  });
}

}  // namespace labvirt::providers::docker
