#include "tests/support/soak_run.h"

#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/deadline.h"
#include "tests/support/suite_daemon.h"

namespace labvirt::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kImage[] = "iosv.qcow2";
constexpr char kLogName[] = "labvirtd.log";  // StartSuiteDaemon's, in the state dir

bool IsError(const std::string& answer) {
  return answer.find("\"error\"") != std::string::npos || answer.rfind("call failed:", 0) == 0;
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first link of lab.get's answer: {"id","endpoints":[a,b]}; empty id when there is none.
struct LinkInfo {
  std::string id, a, b;
};
LinkInfo FirstLink(const std::string& lab_get) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array links, ends;
  std::string_view id, a, b;
  if (p.parse(lab_get).get(doc) || doc["result"]["links"].get(links) || links.size() == 0 ||
      links.at(0)["id"].get(id) || links.at(0)["endpoints"].get(ends) || ends.size() != 2 ||
      ends.at(0).get(a) || ends.at(1).get(b)) {
    return {};
  }
  return {std::string(id), std::string(a), std::string(b)};
}

// How many nodes of a lab.get answer are `ready` (a node's readiness object has a "state" of
// its own, so the text is parsed, not searched).
size_t ReadyNodes(const std::string& lab_get) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array nodes;
  if (p.parse(lab_get).get(doc) || doc["result"]["nodes"].get(nodes)) return 0;
  size_t ready = 0;
  for (auto n : nodes) {
    std::string_view state;
    ready += !n["state"].get(state) && state == "ready";
  }
  return ready;
}

}  // namespace

SoakRun::SoakRun(SoakOptions options)
    : options_(std::move(options)),
      suite_{.place = SuitePlace::Named("lvsoak-" + options_.name),
             .image = kImage,
             .transcript = ReadFile(ConsoleTranscript("iosv"))} {}

SoakRun::~SoakRun() {
  if (daemon_ && !live_lab_.empty()) {
    if (!daemon_->running()) StartSuiteDaemon(suite_, &daemon_);
    CallBounded(suite_.place.socket, "lab.destroy", R"({"lab":")" + live_lab_ + R"("})");
  }
  daemon_.reset();
  if (!options_.keep_files) {
    std::error_code ec;
    fs::remove_all(suite_.place.image_root, ec);
    fs::remove_all(suite_.place.state_dir, ec);
  }
}

std::string SoakRun::Lab(int n) const { return options_.name + "c" + std::to_string(n); }

std::vector<std::string> SoakRun::NodeNames() const {
  std::vector<std::string> names;
  for (int i = 1; i <= std::max(options_.nodes, 1); ++i) names.push_back("r" + std::to_string(i));
  return names;
}

// Two data NICs a node: a chain r1:eth2—r2:eth1, r2:eth2—r3:eth1, …; a lone node's two NICs are
// linked to each other (a loop cable), so that one node still has a link to change.
std::string SoakRun::DeploySpec(const std::string& lab) const {
  std::string nodes, links;
  auto names = NodeNames();
  for (const auto& n : names) {
    nodes += std::string(nodes.empty() ? "" : ",") + R"({"name":")" + n +
             R"(","kind":"iosv","image":")" + kImage + R"(","memory_mb":)" +
             std::to_string(options_.memory_mb) + R"(,"nics":2})";
  }
  if (names.size() == 1) {
    links = R"({"endpoints":["r1:eth1","r1:eth2"]})";
  }
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    links += std::string(links.empty() ? "" : ",") + R"({"endpoints":[")" + names[i] +
             R"(:eth2",")" + names[i + 1] + R"(:eth1"]})";
  }
  return R"({"name":")" + lab + R"(","wait":true,"nodes":[)" + nodes + R"(],"links":[)" + links +
         "]}";
}

std::string SoakRun::Start() {
  started_ = Clock::now();
  std::string err = StartFixtureSuite(suite_, &daemon_);
  if (!err.empty()) return err;
  Sample(0, {});
  return "";
}

std::string SoakRun::ChangeLink(const std::string& lab) {
  const std::string in_lab = R"({"lab":")" + lab + R"(",)";
  LinkInfo link =
      FirstLink(CallBounded(suite_.place.socket, "lab.get", R"({"lab":")" + lab + R"("})"));
  if (link.id.empty()) return "lab.get names no link";
  for (const char* state : {"down", "up"}) {
    std::string r =
        CallBounded(suite_.place.socket, "link.set_state",
                    in_lab + R"("link":")" + link.id + R"(","state":")" + state + "\"}");
    if (IsError(r)) return std::string("link.set_state ") + state + ": " + r;
  }
  std::string r =
      CallBounded(suite_.place.socket, "link.delete", in_lab + R"("link":")" + link.id + "\"}");
  if (IsError(r)) return "link.delete: " + r;
  r = CallBounded(suite_.place.socket, "link.create",
                  in_lab + R"("endpoints":[")" + link.a + R"(",")" + link.b + "\"]}");
  return IsError(r) ? "link.create: " + r : "";
}

std::string SoakRun::RestartNode(const std::string& lab) {
  std::string r = CallBounded(suite_.place.socket, "node.restart",
                              R"({"lab":")" + lab + R"(","node":"r1","wait":true})");
  if (IsError(r)) return "node.restart: " + r;
  std::string state = NodeStateOf(suite_.place.socket, lab, "r1");
  return state == "ready" ? "" : "r1 after node.restart: '" + state + "' " + FailedNodes(r);
}

// SIGTERM, as an operator's restart does; the new labvirtd adopts the lab from libvirt and OVS.
std::string SoakRun::RestartDaemon(const std::string& lab) {
  int rc = daemon_->Stop();
  if (rc != 0) return "labvirtd did not exit 0 on SIGTERM (" + std::to_string(rc) + ")";
  std::string err = StartSuiteDaemon(suite_, &daemon_);
  if (!err.empty()) return "labvirtd restart: " + err;
  ++lifetime_;
  const size_t want = NodeNames().size();
  std::string answer = PollUntil(
      suite_.place.socket, "lab.get", R"({"lab":")" + lab + R"("})",
      [&](const std::string& a) { return ReadyNodes(a) == want; }, Clock::now() + 120s);
  for (const auto& n : NodeNames()) {
    if (NodeStateOf(suite_.place.socket, lab, n) != "ready") {
      return "after the labvirtd restart " + n + " is not ready: " + answer;
    }
  }
  return "";
}

std::string SoakRun::Destroy(const std::string& lab) {
  std::string r = CallBounded(suite_.place.socket, "lab.destroy", R"({"lab":")" + lab + R"("})");
  if (IsError(r)) return "lab.destroy: " + r;
  live_lab_.clear();
  const std::string want = "\"destroyed\":" + std::to_string(NodeNames().size());
  return r.find(want) != std::string::npos ? "" : "lab.destroy did not say " + want + ": " + r;
}

std::string SoakRun::Cycle(int n) {
  const std::string lab = Lab(n);
  std::map<std::string, double> phases;
  auto step = [&](const char* phase, const std::function<std::string()>& run) {
    auto t = Clock::now();
    std::string err = run();
    phases[phase] = Since(t);
    return err.empty() ? "" : "cycle " + std::to_string(n) + " " + phase + ": " + err;
  };
  std::string err = step("deploy", [&] {
    live_lab_ = lab;
    return DeployReady(*daemon_, suite_.place.socket, lab, DeploySpec(lab), NodeNames());
  });
  if (err.empty()) err = step("link", [&] { return ChangeLink(lab); });
  if (err.empty()) err = step("node_restart", [&] { return RestartNode(lab); });
  if (err.empty() && options_.restart_every > 0 && n % options_.restart_every == 0) {
    err = step("daemon_restart", [&] { return RestartDaemon(lab); });
  }
  if (err.empty()) err = step("destroy", [&] { return Destroy(lab); });
  if (err.empty()) {
    Sample(n, std::move(phases));
    return "";
  }
  // DeployReady's own answer names them already.
  if (err.find("labvirtd's warnings") == std::string::npos) {
    err += "\nlabvirtd's warnings:\n" + daemon_->Warnings();
  }
  return err;
}

void SoakRun::Sample(int cycle, std::map<std::string, double> phases) {
  // labvirtd closes a client's socket when it reaps the hang-up, after the client has gone: the
  // last call's connection may still be open. An answer on a connection made after every earlier
  // client hung up means those hang-ups were reaped; the sample counts this one open connection.
  auto sync = ConnectBounded(suite_.place.socket, 30s);
  if (sync.ok()) (void)sync->Call("host.info", "{}");
  SoakSample s = TakeSample(SoakTarget{.pid = daemon_->pid(),
                                       .bridge = options_.bridge,
                                       .lab_prefix = options_.name + "c",
                                       .state_dir = suite_.place.state_dir,
                                       .log_name = kLogName});
  s.cycle = cycle;
  s.lifetime = lifetime_;
  s.at_s = Since(started_);
  s.phase_s = std::move(phases);
  samples_.push_back(std::move(s));
}

}  // namespace labvirt::testing
