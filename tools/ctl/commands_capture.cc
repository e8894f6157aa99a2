// labvirtctl capture: a live capture of one NIC (node.nic.capture) or one link (link.capture) as
// pcapng on stdout or into a file, so `labvirtctl capture L r1:eth1 | tcpdump -r -` or
// `| wireshark -k -i -` works. The stream's last block (an interface statistics block) says why
// the capture ended and how many frames the kernel dropped; that goes to stderr.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"

namespace labvirt::ctl::internal {
namespace {

constexpr char kUsage[] =
    "usage: labvirtctl capture LAB NODE:IF|LINK [-w FILE] [--filter EXPR] [--count N] "
    "[--bytes N] [--snaplen N] [--duration S] [--end a|b]";

template <typename T>
T At(const std::string& s, size_t at) {
  T v{};
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

// Follows the block boundaries of the stream as it passes, to read the closing statistics.
class BlockScanner {
 public:
  void Feed(const char* data, size_t n) {
    pending_.append(data, n);
    while (pending_.size() >= 12) {
      const uint32_t type = At<uint32_t>(pending_, 0), len = At<uint32_t>(pending_, 4);
      if (len < 12 || len % 4 != 0) {
        pending_.clear();  // not pcapng as labvirtd writes it: stop looking
        return;
      }
      if (pending_.size() < len) return;
      if (type == 5) Statistics(pending_.substr(8, len - 12));
      pending_.erase(0, len);
    }
  }
  bool ended() const { return ended_; }
  const std::string& comment() const { return comment_; }
  uint64_t drops() const { return drops_; }
  uint64_t delivered() const { return delivered_; }

 private:
  void Statistics(const std::string& body) {
    ended_ = true;
    for (size_t at = 12; at + 4 <= body.size();) {
      const uint16_t code = At<uint16_t>(body, at), len = At<uint16_t>(body, at + 2);
      if (code == 0 || at + 4 + len > body.size()) break;
      std::string value = body.substr(at + 4, len);
      if (code == 1) comment_ = value;
      if (code == 7 && len == 8) drops_ = At<uint64_t>(value, 0);
      if (code == 8 && len == 8) delivered_ = At<uint64_t>(value, 0);
      at += 4 + len + (4 - len % 4) % 4;
    }
  }
  std::string pending_;
  bool ended_ = false;
  std::string comment_;
  uint64_t drops_ = 0, delivered_ = 0;
};

// "2.5" seconds -> 2500 ms; -1 when it is not a non-negative number.
long long Millis(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno != 0 || v < 0 || v > 7 * 24 * 3600) return -1;
  return static_cast<long long>(v * 1000);
}

// Adds integer flag `flag` as `key`; false (reported) when it is not a number.
bool IntFlag(const Args& a, const char* flag, const char* key, JsonWriter& w) {
  if (!a.Has(flag)) return true;
  const std::string& v = a.flags.at(flag);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0) {
    Fail(std::string(flag) + " needs a non-negative integer, got '" + v + "'", 2);
    return false;
  }
  w.Key(key).Int(n);
  return true;
}

}  // namespace

int Capture(const Options& o, const Args& a) {
  if (a.pos.size() != 2) return Fail(kUsage, 2);
  const std::string& lab = a.pos[0];
  const std::string& what = a.pos[1];
  const bool link = what.find("--") != std::string::npos;  // link ids are "a:x--b:y"
  JsonWriter w;
  w.BeginObject().Key("lab").String(lab);
  if (link) {
    w.Key("link").String(what);
    if (a.Has("--end")) w.Key("end").String(a.flags.at("--end"));
  } else {
    const size_t colon = what.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == what.size()) {
      return Fail("'" + what + "' is neither NODE:INTERFACE nor a link id (" + kUsage + ")", 2);
    }
    if (a.Has("--end")) return Fail("--end applies to a link only", 2);
    w.Key("node").String(what.substr(0, colon)).Key("interface").String(what.substr(colon + 1));
  }
  if (a.Has("--filter")) w.Key("filter").String(a.flags.at("--filter"));
  if (!IntFlag(a, "--count", "count", w) || !IntFlag(a, "--bytes", "bytes", w) ||
      !IntFlag(a, "--snaplen", "snaplen", w)) {
    return 2;
  }
  if (a.Has("--duration")) {
    long long ms = Millis(a.flags.at("--duration"));
    if (ms < 0) return Fail("--duration needs seconds, got '" + a.flags.at("--duration") + "'", 2);
    w.Key("duration_ms").Int(ms);
  }
  w.EndObject();

  int out = STDOUT_FILENO;
  UniqueFd file;
  if (a.Has("-w") && a.flags.at("-w") != "-") {
    file =
        UniqueFd(::open(a.flags.at("-w").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) return Fail(a.flags.at("-w") + ": " + std::strerror(errno));
    out = file.get();
  }
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  CallResult started =
      ParseAnswer(client->Call(link ? "link.capture" : "node.nic.capture", w.str()));
  if (!started.ok) return FailCall(o, started);
  if (o.json) std::fprintf(stderr, "%s\n", started.text.c_str());
  BlockScanner scanner;
  std::string early = client->TakeBuffered();
  scanner.Feed(early.data(), early.size());
  if (!early.empty() && ::write(out, early.data(), early.size()) < 0) return 1;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(client->fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    scanner.Feed(buf, static_cast<size_t>(n));
    for (ssize_t done = 0; done < n;) {
      ssize_t m = ::write(out, buf + done, static_cast<size_t>(n - done));
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) return Fail(std::string("writing the capture: ") + std::strerror(errno));
      done += m;
    }
  }
  if (!scanner.ended()) return Fail("the capture stream ended without its statistics block");
  std::fprintf(stderr, "labvirtctl: %s (%llu frames, %llu dropped by the kernel)\n",
               scanner.comment().c_str(), static_cast<unsigned long long>(scanner.delivered()),
               static_cast<unsigned long long>(scanner.drops()));
  return 0;
}

}  // namespace labvirt::ctl::internal
