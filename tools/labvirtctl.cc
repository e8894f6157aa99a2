// labvirtctl: command-line client of labvirtd's control socket.
//
// A CLI blocks on its one request, so it uses plain blocking sockets rather than the reactor.
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/labvirtctl_offline.h"

namespace {

constexpr const char* kDefaultSocket = "/run/labvirt/labvirtd.sock";

void Usage(FILE* out) {
  std::fputs(
      "usage: labvirtctl [--socket PATH] [--json] COMMAND\n"
      "commands:\n"
      "  host-info                 daemon health and version\n"
      "  call METHOD [PARAMS]      send one JSON-RPC request (PARAMS: a JSON object)\n"
      "  version                   print labvirtctl's version\n",
      out);
}

// Sends one request line and returns the response line; exits with 1 on socket errors.
std::string Call(const std::string& socket_path, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "labvirtctl: socket path too long: %s\n", socket_path.c_str());
    std::exit(2);
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    std::fprintf(stderr, "labvirtctl: cannot reach labvirtd at %s: %s (is it running?)\n",
                 socket_path.c_str(), std::strerror(errno));
    std::exit(1);
  }
  std::string line = request + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      std::fprintf(stderr, "labvirtctl: send: %s\n", std::strerror(errno));
      std::exit(1);
    }
    off += static_cast<size_t>(n);
  }
  std::string response;
  char buf[65536];
  while (response.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      std::fprintf(stderr, "labvirtctl: labvirtd closed the connection without an answer\n");
      std::exit(1);
    }
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response.substr(0, response.find('\n'));
}

// Prints the response; returns the exit code (0 on a result, 1 on an error).
int Report(const std::string& response, bool json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(response).get(doc)) {
    std::fprintf(stderr, "labvirtctl: labvirtd sent invalid JSON: %s\n", response.c_str());
    return 1;
  }
  simdjson::dom::element err;
  if (doc["error"].get(err) == simdjson::SUCCESS) {
    std::fprintf(stderr, "labvirtctl: error: %s\n", simdjson::minify(err).c_str());
    return 1;
  }
  simdjson::dom::element result;
  if (doc["result"].get(result)) {
    std::fprintf(stderr, "labvirtctl: response has no result: %s\n", response.c_str());
    return 1;
  }
  if (json) {
    std::printf("%s\n", simdjson::minify(result).c_str());
    return 0;
  }
  if (result.is_object()) {
    for (auto [key, value] : result.get_object()) {
      std::string text = value.is_string() ? std::string(value.get_string().value())
                                           : simdjson::minify(value);
      std::printf("%-12s %s\n", std::string(key).c_str(), text.c_str());
    }
  } else {
    std::printf("%s\n", simdjson::minify(result).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Offline subcommands (kinds, render-domain) need no daemon: tools/labvirtctl_offline.h.
  if (int rc = 0; labvirt::tools::MaybeRunOffline(argc, argv, &rc)) return rc;
  std::string socket_path = kDefaultSocket;
  bool json = false;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (arg.rfind("--socket=", 0) == 0) {
      socket_path = arg.substr(9);
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "labvirtctl: unknown flag %s\n", arg.c_str());
      Usage(stderr);
      return 2;
    } else {
      rest.push_back(arg);
    }
  }
  if (rest.empty()) {
    Usage(stderr);
    return 2;
  }
  const std::string& cmd = rest[0];
  if (cmd == "version") {
    std::printf("labvirtctl %s\n", LABVIRT_VERSION);
    return 0;
  }
  std::string method;
  std::string params = "{}";
  if (cmd == "host-info" && rest.size() == 1) {
    method = "host.info";
  } else if (cmd == "call" && (rest.size() == 2 || rest.size() == 3)) {
    method = rest[1];
    if (rest.size() == 3) params = rest[2];
    simdjson::dom::parser check;
    simdjson::dom::element doc;
    if (check.parse(params).get(doc) || !doc.is_object()) {
      std::fprintf(stderr, "labvirtctl: PARAMS must be a JSON object, got: %s\n", params.c_str());
      return 2;
    }
  } else {
    std::fprintf(stderr, "labvirtctl: unknown command or wrong arguments: %s\n", cmd.c_str());
    Usage(stderr);
    return 2;
  }
  std::string request = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method +
                        "\",\"params\":" + params + "}";
  return Report(Call(socket_path, request), json);
}
