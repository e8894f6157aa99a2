// Lab subcommands: status, deploy, link.
#include <cstdio>
#include <map>

#include "reactor/base/json_writer.h"
#include "tools/ctl/commands_internal.h"
#include "tools/ctl/topology.h"

namespace labvirt::ctl::internal {
namespace {

// The management segment and each node's place on it (docs/mgmt.md).
void PrintMgmt(simdjson::dom::element lab) {
  simdjson::dom::element seg = lab["mgmt"];
  if (seg.is_null()) return;
  std::printf("\nMGMT %s on %s: %s gateway %s", Str(seg, "state").c_str(),
              Str(seg, "interface").c_str(), Str(seg, "subnet_ipv4").c_str(),
              Str(seg, "gateway_ipv4").c_str());
  if (!Str(seg, "subnet_ipv6").empty()) {
    std::printf(", %s gateway %s", Str(seg, "subnet_ipv6").c_str(),
                Str(seg, "gateway_ipv6").c_str());
  }
  std::printf("%s\n", Bool(seg, "nat") ? ", NAT" : "");
  if (!Str(seg, "reason").empty()) std::printf("  reason: %s\n", Str(seg, "reason").c_str());
  std::printf("%-14s %-16s %-18s %-26s %s\n", "NODE", "IPV4", "MAC", "IPV6", "FORWARDS");
  for (auto n : lab["nodes"].get_array()) {
    simdjson::dom::element m = n["mgmt"];
    if (m.is_null() || Str(m, "ipv4").empty()) continue;
    std::string forwards;
    for (auto f : m["forwards"].get_array()) {
      forwards += (forwards.empty() ? "" : " ") + Str(f, "protocol") + "/" +
                  std::to_string(Int(f, "host_port")) + "->" + std::to_string(Int(f, "port"));
    }
    std::printf("%-14s %-16s %-18s %-26s %s\n", Str(n, "name").c_str(), Str(m, "ipv4").c_str(),
                Str(m, "mac").c_str(), Str(m, "ipv6").c_str(),
                forwards.empty() ? "-" : forwards.c_str());
  }
}

void PrintNodes(simdjson::dom::element lab) {
  std::printf("%-14s %-14s %-9s %-5s %-8s %s\n", "NODE", "KIND", "STATE", "BOOT", "VIEWERS",
              "REASON");
  for (auto n : lab["nodes"].get_array()) {
    simdjson::dom::element r = n["readiness"];
    // A queued node says which of admission's gates holds it, with the numbers.
    std::string reason = Str(n, "reason");
    simdjson::dom::element queued;
    if (n["queued_reason"].get(queued) == simdjson::SUCCESS && !queued.is_null())
      reason += " (" + QueuedWords(queued) + ")";
    std::printf("%-14s %-14s %-9s %3lld%% %-8lld %s\n", Str(n, "name").c_str(),
                Str(n, "kind").c_str(), Str(n, "state").c_str(),
                static_cast<long long>(Int(r, "percent")),
                static_cast<long long>(Int(n["console"], "viewers")), reason.c_str());
  }
  // Each data NIC under both of its names: the kind's own and the alias ethN (the same NIC
  // number on every kind), so a user can write either in a link.
  bool header = false;
  for (auto n : lab["nodes"].get_array()) {
    auto nics = n["nics"].get_array();
    if (nics.error()) continue;
    for (auto nic : nics.value()) {
      if (Str(nic, "role") != "data") continue;
      if (!header) std::printf("\n%-14s %-24s %-6s %s\n", "NODE", "INTERFACE", "ALIAS", "LINK");
      header = true;
      std::string link = Str(nic, "link");
      std::printf("%-14s %-24s %-6s %s\n", Str(n, "name").c_str(), Str(nic, "interface").c_str(),
                  Str(nic, "alias").c_str(), link.empty() ? "-" : link.c_str());
    }
  }
  PrintMgmt(lab);
  auto links = lab["links"].get_array();
  if (!links.error() && links.size() > 0) {
    std::printf("\n%-50s %-3s %s\n", "LINK", "UP", "IMPAIRMENT");
    for (auto l : links.value()) {
      bool up = Bool(l, "up");
      std::printf("%-50s %-3s %s\n", Str(l, "id").c_str(), up ? "yes" : "no",
                  ImpairmentSummary(l).c_str());
    }
  }
}

// A deploy's progress: each node's last state, from the answer and then from node.state events.
class DeployFollower {
 public:
  DeployFollower(const Options& o, const Args& a, std::string lab)
      : o_(o), no_wait_(a.Has("--no-wait")), lab_(std::move(lab)) {}

  // FollowEvents's handler. `deploy_id` is the id of the lab.deploy request.
  int OnLine(simdjson::dom::element doc, int64_t deploy_id) {
    if (doc["id"].is_int64() && Int(doc, "id") == deploy_id) {
      CallResult r = ParseAnswer(simdjson::minify(doc));
      if (!r.ok) {
        r.text = "deploy refused: " + r.text;
        return FailCall(o_, r);
      }
      deployed_ = true;
      for (auto n : doc["result"]["nodes"].get_array()) {
        state_[Str(n, "name")] = Str(n, "state");
        reason_[Str(n, "name")] = Str(n, "reason");
      }
      if (!o_.json) std::printf("lab %s deployed: %zu nodes\n", lab_.c_str(), state_.size());
      if (no_wait_) return 0;
    } else if (IsEvent(doc)) {
      PrintEvent(doc["params"]);
    }
    return deployed_ ? Outcome() : kContinue;
  }

 private:
  void PrintEvent(simdjson::dom::element ev) {
    std::string type = Str(ev, "type"), node = Str(ev, "node");
    if (type == "node.state" && !node.empty()) {
      state_[node] = Str(ev["data"], "state");
      reason_[node] = Str(ev["data"], "reason");
    }
    if (o_.json) return;  // FollowEvents printed it
    if (type == "node.state") {
      std::printf("  %-12s %-9s %s\n", node.c_str(), Str(ev["data"], "state").c_str(),
                  Str(ev["data"], "reason").c_str());
    } else if (type == "node.readiness.progress") {
      std::printf("  %-12s %3lld%%     %s\n", node.c_str(),
                  static_cast<long long>(Int(ev["data"], "percent")),
                  Str(ev["data"], "label").c_str());
    }
  }

  // kContinue while a node is on its way; then 1 if any failed (with one line on stderr, as for
  // every exit 1: "N node(s) failed: r1: reason; r2: reason"), else 0.
  int Outcome() const {
    int ready = 0, failed = 0, idle = 0;
    for (const auto& [n, s] : state_) {
      ready += s == "ready";
      failed += s == "failed";
      idle += s == "defined" || s == "stopped";  // not started (start: false)
    }
    if (ready + failed + idle != static_cast<int>(state_.size())) return kContinue;
    if (!o_.json) {
      std::printf("%d ready, %d failed", ready, failed);
      if (idle > 0) std::printf(", %d not started", idle);
      std::printf("\n");
    }
    if (failed == 0) return 0;
    std::string which;
    for (const auto& [n, s] : state_) {
      if (s != "failed") continue;
      auto why = reason_.find(n);
      which += (which.empty() ? "" : "; ") + n + ": " +
               (why == reason_.end() || why->second.empty() ? "no reason given" : why->second);
    }
    for (char& c : which) c = c == '\n' ? ' ' : c;  // one line, whatever libvirt said
    std::fflush(stdout);                            // the summary first, then the error line
    return Fail("deploy of " + lab_ + ": " + std::to_string(failed) + " node(s) failed: " + which);
  }

  const Options& o_;
  const bool no_wait_;
  const std::string lab_;
  std::map<std::string, std::string> state_;
  std::map<std::string, std::string> reason_;  // each node's last reason, for the error line
  bool deployed_ = false;
};

}  // namespace

int LabStatus(const Options& o, const Args& a) {
  if (a.pos.size() > 1) return Fail("usage: labvirtctl status [LAB]", 2);
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
  constexpr int kSubscribeId = 1, kDeployId = 2;
  JsonWriter sub;
  sub.BeginObject().Key("labs").BeginArray().String(topo->name).EndArray().EndObject();
  for (auto [method, params, id] : {std::tuple{"events.subscribe", sub.str(), kSubscribeId},
                                    std::tuple{"lab.deploy", topo->params_json, kDeployId}}) {
    if (Status st = client->Send(method, params, id); !st.ok()) return Fail(st.message());
  }
  DeployFollower follower(o, a, topo->name);
  return FollowEvents(*client, o, [&follower](simdjson::dom::element doc) {
    return follower.OnLine(doc, kDeployId);
  });
}

// inventory LAB [--format yaml|json]: the lab's Ansible inventory on stdout.
int Inventory(const Options& o, const Args& a) {
  if (a.pos.size() != 1) return Fail("usage: labvirtctl inventory LAB [--format yaml|json]", 2);
  auto given = a.flags.find("--format");
  std::string format = given != a.flags.end() ? given->second : o.json ? "json" : "yaml";
  CallResult r = CallOnce(o, "lab.inventory", Obj({{"lab", a.pos[0]}, {"format", format}}));
  if (!r.ok) return Show(o, r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.text);
  if (format == "yaml") {
    std::fputs(Str(doc, "inventory").c_str(), stdout);
  } else {
    std::printf("%s\n", simdjson::minify(doc["inventory"]).c_str());
  }
  return 0;
}

// link LAB create NODE:IF NODE:IF | link LAB delete ID | link LAB up|down ID
}  // namespace labvirt::ctl::internal
