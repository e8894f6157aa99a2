#include "tools/ctl/commands.h"

#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "reactor/json_writer.h"
#include "tools/ctl/client.h"
#include "tools/ctl/topology.h"

namespace labvirt::ctl {
namespace {

int Fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "labvirtctl: %s\n", msg.c_str());
  return code;
}

// Positional arguments and --flags of a subcommand.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> flags;  // "--force" -> "" ; "--bytes 10" -> "10"
  bool Has(const std::string& f) const { return flags.count(f) > 0; }
};

Args SplitArgs(const std::vector<std::string>& in, const std::set<std::string>& with_value) {
  Args a;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].rfind("--", 0) == 0) {
      std::string v;
      if (with_value.count(in[i]) && i + 1 < in.size()) v = in[++i];
      a.flags[in[i].substr(0, in[i].find('='))] = v;
    } else {
      a.pos.push_back(in[i]);
    }
  }
  return a;
}

std::string Obj(std::initializer_list<std::pair<const char*, std::string>> kv) {
  JsonWriter w;
  w.BeginObject();
  for (const auto& [k, v] : kv) w.Key(k).String(v);
  w.EndObject();
  return w.Take();
}

// Runs one call; on success prints (json or human) and returns 0.
struct CallResult {
  bool ok = false;
  std::string text;  // the result JSON, or the error JSON
};

CallResult CallOnce(const Options& o, const std::string& method, const std::string& params) {
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return {false, client.status().message()};
  auto line = client->Call(method, params);
  if (!line.ok()) return {false, line.status().message()};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*line).get(doc)) return {false, "labvirtd sent invalid JSON: " + *line};
  simdjson::dom::element el;
  if (doc["error"].get(el) == simdjson::SUCCESS) return {false, simdjson::minify(el)};
  if (doc["result"].get(el)) return {false, "no result in: " + *line};
  return {true, simdjson::minify(el)};
}

std::string Str(simdjson::dom::element el, const char* key) {
  std::string_view s;
  return el[key].get_string().get(s) ? "" : std::string(s);
}
int64_t Int(simdjson::dom::element el, const char* key) {
  int64_t v = 0;
  auto err = el[key].get_int64().get(v);
  return err ? 0 : v;
}

bool Bool(simdjson::dom::element el, const char* key) {
  bool v = false;
  auto err = el[key].get_bool().get(v);
  return err ? false : v;
}

void PrintNodes(simdjson::dom::element lab) {
  std::printf("%-14s %-14s %-9s %-5s %-8s %s\n", "NODE", "KIND", "STATE", "BOOT", "VIEWERS",
              "REASON");
  for (auto n : lab["nodes"].get_array()) {
    simdjson::dom::element r = n["readiness"];
    std::printf("%-14s %-14s %-9s %3lld%% %-8lld %s\n", Str(n, "name").c_str(),
                Str(n, "kind").c_str(), Str(n, "state").c_str(),
                static_cast<long long>(Int(r, "percent")),
                static_cast<long long>(Int(n["console"], "viewers")), Str(n, "reason").c_str());
  }
  auto links = lab["links"].get_array();
  if (!links.error() && links.size() > 0) {
    std::printf("\n%-50s %s\n", "LINK", "UP");
    for (auto l : links.value()) {
      bool up = Bool(l, "up");
      std::printf("%-50s %s\n", Str(l, "id").c_str(), up ? "yes" : "no");
    }
  }
}

int Show(const Options& o, const CallResult& r) {
  if (!r.ok) return Fail("error: " + r.text);
  if (o.json) {
    std::printf("%s\n", r.text.c_str());
    return 0;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element el = parser.parse(r.text);
  if (el.is_object()) {
    for (auto [k, v] : el.get_object()) {
      std::string t = v.is_string() ? std::string(v.get_string().value()) : simdjson::minify(v);
      std::printf("%-14s %s\n", std::string(k).c_str(), t.c_str());
    }
  } else {
    std::printf("%s\n", r.text.c_str());
  }
  return 0;
}

int Status(const Options& o, const Args& a) {
  if (a.pos.empty()) {
    CallResult r = CallOnce(o, "lab.list", "{}");
    if (!r.ok || o.json) return Show(o, r);
    simdjson::dom::parser parser;
    std::printf("%-20s %-6s %-6s %s\n", "LAB", "NODES", "READY", "LINKS");
    for (auto l : parser.parse(r.text).get_array()) {
      std::printf("%-20s %-6lld %-6lld %lld\n", Str(l, "name").c_str(),
                  static_cast<long long>(Int(l, "nodes")), static_cast<long long>(Int(l, "ready")),
                  static_cast<long long>(Int(l, "links")));
    }
    return 0;
  }
  CallResult r = CallOnce(o, "lab.get", Obj({{"lab", a.pos[0]}}));
  if (!r.ok || o.json) return Show(o, r);
  simdjson::dom::parser parser;
  PrintNodes(parser.parse(r.text));
  return 0;
}

// Deploys and follows the lab's events until every started node is ready or failed.
int Deploy(const Options& o, const Args& a) {
  if (a.pos.size() != 1) return Fail("usage: labvirtctl deploy FILE [--no-wait]", 2);
  auto topo = LoadTopology(a.pos[0]);
  if (!topo.ok()) return Fail(topo.status().message(), 2);
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  // Subscribe first on the same connection: answers and events arrive in order on it.
  JsonWriter sub;
  sub.BeginObject().Key("labs").BeginArray().String(topo->name).EndArray().EndObject();
  if (!client->Send("events.subscribe", sub.str(), 1).ok()) return Fail("send failed");
  if (!client->Send("lab.deploy", topo->params_json, 2).ok()) return Fail("send failed");
  std::map<std::string, std::string> state;
  bool deployed = false;
  simdjson::dom::parser parser;
  while (true) {
    auto line = client->ReadLine();
    if (!line.ok()) return Fail(line.status().message());
    simdjson::dom::element doc;
    if (parser.parse(*line).get(doc)) continue;
    int64_t id = doc["id"].is_int64() ? Int(doc, "id") : -1;
    if (id == 2) {
      simdjson::dom::element err;
      if (doc["error"].get(err) == simdjson::SUCCESS) {
        return Fail("deploy refused: " + simdjson::minify(err));
      }
      deployed = true;
      for (auto n : doc["result"]["nodes"].get_array()) state[Str(n, "name")] = Str(n, "state");
      if (!o.json) std::printf("lab %s deployed: %zu nodes\n", topo->name.c_str(), state.size());
      if (a.Has("--no-wait")) return 0;
    } else if (Str(doc, "method") == "event") {
      simdjson::dom::element ev = doc["params"];
      std::string type = Str(ev, "type"), node = Str(ev, "node");
      if (o.json) {
        std::printf("%s\n", simdjson::minify(ev).c_str());
      } else if (type == "node.state") {
        std::printf("  %-12s %-9s %s\n", node.c_str(), Str(ev["data"], "state").c_str(),
                    Str(ev["data"], "reason").c_str());
      } else if (type == "node.readiness.progress") {
        std::printf("  %-12s %3lld%%     %s\n", node.c_str(),
                    static_cast<long long>(Int(ev["data"], "percent")),
                    Str(ev["data"], "label").c_str());
      }
      if (type == "node.state" && !node.empty()) state[node] = Str(ev["data"], "state");
    }
    std::fflush(stdout);
    if (!deployed) continue;
    int done = 0, failed = 0;
    for (const auto& [n, s] : state) {
      bool final = s == "ready" || s == "failed" || s == "defined" || s == "stopped";
      done += final;
      failed += s == "failed";
    }
    if (done == static_cast<int>(state.size())) {
      if (!o.json) std::printf("%d ready, %d failed\n", done - failed, failed);
      return failed ? 1 : 0;
    }
  }
}

int Events(const Options& o, const Args& a) {
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  JsonWriter w;
  w.BeginObject();
  for (const char* f : {"--lab", "--node", "--type"}) {
    auto it = a.flags.find(f);
    if (it == a.flags.end()) continue;
    w.Key(std::string(f + 2) + "s").BeginArray().String(it->second).EndArray();
  }
  w.EndObject();
  auto r = client->Call("events.subscribe", w.str());
  if (!r.ok() || r->find("\"error\"") != std::string::npos) {
    return Fail(r.ok() ? *r : r.status().message());
  }
  simdjson::dom::parser parser;
  while (true) {
    auto line = client->ReadLine();
    if (!line.ok()) return Fail(line.status().message());
    simdjson::dom::element doc;
    if (parser.parse(*line).get(doc)) continue;
    simdjson::dom::element ev = doc["params"];
    if (o.json) {
      std::printf("%s\n", simdjson::minify(ev).c_str());
    } else {
      std::printf("%-24s %s/%s %s\n", Str(ev, "type").c_str(), Str(ev, "lab").c_str(),
                  Str(ev, "node").c_str(), simdjson::minify(ev["data"]).c_str());
    }
    std::fflush(stdout);
  }
}

int Console(const Options& o, const Args& a) {
  if (a.pos.size() != 2) return Fail("usage: labvirtctl console LAB NODE [--ro] [--force]", 2);
  auto client = Client::Connect(o.socket);
  if (!client.ok()) return Fail(client.status().message());
  JsonWriter w;
  w.BeginObject().Key("lab").String(a.pos[0]).Key("node").String(a.pos[1]);
  w.Key("mode").String(a.Has("--ro") ? "ro" : "rw").Key("force").Bool(a.Has("--force"));
  w.EndObject();
  auto reply = client->Call("console.attach", w.str());
  if (!reply.ok()) return Fail(reply.status().message());
  if (reply->find("\"error\"") != std::string::npos) return Fail("error: " + *reply);
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
  int rc = 0;
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
      if (n <= 0) {
        rc = 0;
        break;  // labvirtd closed the console (node gone, or we were cut off)
      }
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
  return rc;
}

int NodeCall(const Options& o, const Args& a, const std::string& method) {
  if (a.pos.size() != 2) return Fail("usage: labvirtctl " + method + " LAB NODE", 2);
  JsonWriter w;
  w.BeginObject().Key("lab").String(a.pos[0]).Key("node").String(a.pos[1]);
  if (a.Has("--wait")) w.Key("wait").Bool(true);
  if (a.Has("--force")) w.Key("force").Bool(true);
  if (a.Has("--timeout")) w.Key("timeout_s").Int(std::atoll(a.flags.at("--timeout").c_str()));
  if (a.Has("--bytes")) w.Key("bytes").Int(std::atoll(a.flags.at("--bytes").c_str()));
  w.EndObject();
  CallResult r = CallOnce(o, method, w.str());
  if (method == "console.tail" && r.ok && !o.json) {
    simdjson::dom::parser parser;
    std::string text = Str(parser.parse(r.text), "text");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  return Show(o, r);
}

// link LAB create NODE:IF NODE:IF | link LAB delete ID | link LAB up|down ID
int Link(const Options& o, const Args& a) {
  const char* usage =
      "usage: labvirtctl link LAB create NODE:IF NODE:IF | link LAB delete|up|down LINK";
  if (a.pos.size() < 3) return Fail(usage, 2);
  const std::string& lab = a.pos[0];
  const std::string& verb = a.pos[1];
  JsonWriter w;
  w.BeginObject().Key("lab").String(lab);
  std::string method;
  if (verb == "create" && a.pos.size() == 4) {
    method = "link.create";
    w.Key("endpoints").BeginArray().String(a.pos[2]).String(a.pos[3]).EndArray();
  } else if (verb == "delete" && a.pos.size() == 3) {
    method = "link.delete";
    w.Key("link").String(a.pos[2]);
  } else if ((verb == "up" || verb == "down") && a.pos.size() == 3) {
    method = "link.set_state";
    w.Key("link").String(a.pos[2]).Key("state").String(verb);
  } else {
    return Fail(usage, 2);
  }
  w.EndObject();
  return Show(o, CallOnce(o, method, w.str()));
}

// metrics: Prometheus text as it is (the result is a JSON string).
int Metrics(const Options& o) {
  CallResult r = CallOnce(o, "metrics", "{}");
  if (!r.ok || o.json) return Show(o, r);
  simdjson::dom::parser parser;
  std::string_view text;
  if (parser.parse(r.text).get_string().get(text)) return Show(o, r);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

void PrintUsage(FILE* out) {
  std::fputs(
      "usage: labvirtctl [--socket PATH] [--json] COMMAND [ARGS]\n"
      "  deploy FILE [--no-wait]        deploy a topology (YAML or JSON); follow until ready\n"
      "  destroy LAB                    destroy a lab and everything it made\n"
      "  status [LAB]                   labs, or one lab's nodes and links\n"
      "  node LAB NODE                  one node in detail\n"
      "  start LAB NODE [--wait]        start a node\n"
      "  stop LAB NODE [--force] [--timeout S] [--wait]\n"
      "  console LAB NODE [--ro] [--force]   attach the terminal (Ctrl-] leaves)\n"
      "  restart LAB NODE [--wait]      stop (ACPI) and start again, keeping the disk\n"
      "  wipe LAB NODE                  fresh disk from the base image (node stopped)\n"
      "  reconcile LAB NODE             re-read libvirt's view of the node and converge\n"
      "  nic-add LAB NODE               hot-plug the node's next data NIC\n"
      "  nic-remove LAB NODE            remove the node's last data NIC\n"
      "  link LAB create NODE:IF NODE:IF | link LAB delete|up|down LINK   live links\n"
      "  cleanup [--dry-run]            remove ports, disks, logs no node claims\n"
      "  metrics                        Prometheus metrics\n"
      "  tail LAB NODE [--bytes N]      the end of the node's console log\n"
      "  events [--lab L] [--node N] [--type PREFIX]   stream events\n"
      "  catalog                        device kinds known to the running labvirtd\n"
      "  kinds                          the device catalog, offline (no daemon)\n"
      "  render-domain --kind KIND [--node NAME] [--nics N]   domain XML, offline\n"
      "  host-info                      daemon health and version\n"
      "  call METHOD [PARAMS]           send one JSON-RPC request\n"
      "  version\n",
      out);
}

int RunCommand(const std::string& cmd, const Options& o) {
  Args a = SplitArgs(o.args, {"--timeout", "--bytes", "--lab", "--node", "--type"});
  if (cmd == "deploy") return Deploy(o, a);
  if (cmd == "status") return Status(o, a);
  if (cmd == "events") return Events(o, a);
  if (cmd == "console") return Console(o, a);
  if (cmd == "node") return NodeCall(o, a, "node.get");
  if (cmd == "start") return NodeCall(o, a, "node.start");
  if (cmd == "stop") return NodeCall(o, a, "node.stop");
  if (cmd == "tail") return NodeCall(o, a, "console.tail");
  if (cmd == "restart") return NodeCall(o, a, "node.restart");
  if (cmd == "wipe") return NodeCall(o, a, "node.wipe");
  if (cmd == "reconcile") return NodeCall(o, a, "node.reconcile");
  if (cmd == "nic-add") return NodeCall(o, a, "node.nic.add");
  if (cmd == "nic-remove") return NodeCall(o, a, "node.nic.remove");
  if (cmd == "link") return Link(o, a);
  if (cmd == "metrics") return Metrics(o);
  if (cmd == "cleanup") {
    if (!a.pos.empty()) return Fail("usage: labvirtctl cleanup [--dry-run]", 2);
    return Show(o, CallOnce(o, "lab.cleanup", a.Has("--dry-run") ? R"({"dry_run":true})" : "{}"));
  }
  if (cmd == "destroy") {
    if (a.pos.size() != 1) return Fail("usage: labvirtctl destroy LAB", 2);
    return Show(o, CallOnce(o, "lab.destroy", Obj({{"lab", a.pos[0]}})));
  }
  if (cmd == "catalog") return Show(o, CallOnce(o, "catalog.list", "{}"));
  if (cmd == "host-info") return Show(o, CallOnce(o, "host.info", "{}"));
  if (cmd == "call") {
    if (a.pos.empty() || a.pos.size() > 2) return Fail("usage: labvirtctl call METHOD [PARAMS]", 2);
    std::string params = a.pos.size() == 2 ? a.pos[1] : "{}";
    simdjson::dom::parser check;
    simdjson::dom::element doc;
    if (check.parse(params).get(doc) || !doc.is_object()) {
      return Fail("PARAMS must be a JSON object, got: " + params, 2);
    }
    return Show(o, CallOnce(o, a.pos[0], params));
  }
  std::fprintf(stderr, "labvirtctl: unknown command '%s'\n", cmd.c_str());
  PrintUsage(stderr);
  return 2;
}

}  // namespace labvirt::ctl
