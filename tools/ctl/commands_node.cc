// Node subcommands: node, start, stop, restart, wipe, reconcile, nic-add, nic-remove, tail,
// console.
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {

int NodeCall(const Options& o, const Args& a, const std::string& command,
             const std::string& method) {
  if (a.pos.size() != 2) return Fail("usage: labvirtctl " + command + " LAB NODE", 2);
  JsonWriter w;
  w.BeginObject().Key("lab").String(a.pos[0]).Key("node").String(a.pos[1]);
  if (a.Has("--wait")) w.Key("wait").Bool(true);
  if (a.Has("--force")) w.Key("force").Bool(true);
  for (auto [flag, key] : {std::pair{"--timeout", "timeout_s"}, std::pair{"--bytes", "bytes"}}) {
    auto it = a.flags.find(flag);
    if (it == a.flags.end()) continue;
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0') {
      return Fail(std::string(flag) + " must be an integer, got '" + it->second + "'", 2);
    }
    w.Key(key).Int(v);
  }
  w.EndObject();
  CallResult r = CallOnce(o, method, w.str());
  if (!r.ok) return FailCall(o, r);
  simdjson::dom::parser parser;
  simdjson::dom::element result = parser.parse(r.text);
  if (method == "console.tail" && !o.json) {
    std::string text = Str(result, "text");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  int rc = Show(o, r);
  // A node that a --wait left failed is a failure of the command, as the usage promises.
  if (a.Has("--wait") && Str(result, "state") == "failed") {
    return Fail(a.pos[1] + " failed: " + Str(result, "reason"));
  }
  return rc;
}

int Console(const Options& o, const Args& a) {
  if (a.pos.size() != 2) return Fail("usage: labvirtctl console LAB NODE [--ro] [--force]", 2);
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  JsonWriter w;
  w.BeginObject().Key("lab").String(a.pos[0]).Key("node").String(a.pos[1]);
  w.Key("mode").String(a.Has("--ro") ? "ro" : "rw").Key("force").Bool(a.Has("--force"));
  w.EndObject();
  CallResult attached = ParseAnswer(client->Call("console.attach", w.str()));
  if (!attached.ok) return FailCall(o, attached);
  std::string early = client->TakeBuffered();
  if (!early.empty() && ::write(STDOUT_FILENO, early.data(), early.size()) < 0) return 1;
  bool tty = ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "[connected to %s/%s; Ctrl-] to leave]\r\n", a.pos[0].c_str(),
                 a.pos[1].c_str());
    ::tcgetattr(STDIN_FILENO, &saved);
    termios raw = saved;
    ::cfmakeraw(&raw);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {client->fd(), POLLIN, 0}};
  char buf[65536];
  bool stdin_open = true;
  while (true) {
    // Once scripted input has ended, keep showing output until a second of silence.
    int ready = ::poll(fds, 2, stdin_open || tty ? -1 : 1000);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0) break;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(client->fd(), buf, sizeof buf);
      if (n <= 0) break;  // labvirtd closed the console (node gone, or we were cut off)
      if (::write(STDOUT_FILENO, buf, static_cast<size_t>(n)) < 0) break;
    }
    if (stdin_open && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // input ended: keep showing output (see the poll timeout)
        fds[0].fd = -1;
        continue;
      }
      void* quit = tty ? std::memchr(buf, 0x1d, static_cast<size_t>(n)) : nullptr;
      size_t len = quit ? static_cast<size_t>(static_cast<char*>(quit) - buf) : n;
      if (len > 0 && ::send(client->fd(), buf, len, MSG_NOSIGNAL) < 0) break;
      if (quit) break;
    }
  }
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n[disconnected]\n");
  }
  return 0;
}

}  // namespace labvirt::ctl::internal
