// NodeLife (engine/lab/node_life.h), the steps of a start between its paused start and its
// resume: the console PTY from the live XML, the console hub, the mark of where this boot's
// console log begins, the NICs on the bridge; and, for a boot adopted after a labvirtd restart,
// what that log holds of it.
#include "engine/console/boot_log.h"
#include "engine/lab/node_life.h"
#include "reactor/base/fault_point.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

// Console bytes kept between a VM's resume and the start of its readiness watch: a boot's first
// screens, far more than a few milliseconds of output.
constexpr size_t kMaxEarlyConsole = 256 * 1024;

// Readiness includes the config: a node whose medium libvirt did not attach never resumes (its
// start fails with the reason, and its config shows "written", not "attached").
Status CheckConfigAttached(Node& n, const std::string& live_xml) {
  n.config_attached =
      !n.config_medium.empty() && providers::HasDiskSource(live_xml, n.config_medium);
  if (n.config_medium.empty() || n.config_attached) return Status::Ok();
  return FailedPrecondition("startup config: medium " + n.config_medium +
                            " is not attached to the running domain");
}

}  // namespace

void NodeLife::FetchConsole(const std::string& key, int attempt) {
  Node* n = FindNodeByKey(key);
  if (n == nullptr || n->state != NodeState::kStarting) return;
  hv_.GetXml(n->domain, /*live=*/true, [this, key, attempt](Result<std::string> xml) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    if (!xml.ok()) return StartStepFailed(*n, xml.status());
    if (providers::LivePtyPath(*xml).empty() && attempt < 40) {
      // A domain still being started (by libvirt, for a labvirtd killed meanwhile) has no PTY
      // in its live XML yet: look again shortly, for up to 20 s.
      n->stop_timer = reactor_.After(std::chrono::milliseconds(500),
                                     [this, key, attempt] { FetchConsole(key, attempt + 1); });
      return;
    }
    AttachConsole(key, *xml);
  });
}

void NodeLife::AttachConsole(const std::string& key, const std::string& live_xml) {
  Node* n = FindNodeByKey(key);
  n->pty = providers::LivePtyPath(live_xml);
  if (n->pty.empty()) return FailStart(*n, "the running domain has no serial PTY");
  if (Status st = CheckConfigAttached(*n, live_xml); !st.ok()) return FailStart(*n, st.message());
  if (!n->hub) {
    ConsoleHubCallbacks cb;
    // The hub belongs to the node and dies with it, so its callbacks may hold the node itself
    // (no lookup by key on every console chunk).
    cb.on_output = [n](std::string_view bytes) {
      // A resumed VM prints before the Resume answer begins the tracker's attempt: those bytes
      // wait for it (a fast guest's whole boot, ready text included, can fall in there).
      if (n->state == NodeState::kStarting) {
        if (n->early_console.size() + bytes.size() <= kMaxEarlyConsole) {
          n->early_console.append(bytes);
        }
        return;
      }
      if (n->tracker) n->tracker->OnConsole(bytes);
    };
    cb.on_viewer_closed = [this, key](ViewerId id, const std::string& reason) {
      Node* n = FindNodeByKey(key);
      JsonWriter w;
      w.BeginObject().Key("viewer").Uint(id).Key("reason").String(reason).EndObject();
      Emit("console.viewer_closed", n, w.Take());
    };
    n->hub = std::make_unique<ConsoleHub>(reactor_, key, options_.console, std::move(cb));
  }
  n->early_console.clear();  // the previous VM's last words are no part of this boot
  Status st = n->hub->attached() ? n->hub->Reopen(n->pty) : n->hub->Open(n->pty);
  // No such PTY: the QEMU that held it exited after its start answered (seen in CI: libvirt shot
  // a retried start), which another start may well survive.
  if (st.code() == StatusCode::kNotFound)
    return StartVanished(*n, "the VM exited right after its start (console: " + st.message() + ")");
  if (!st.ok()) return FailStart(*n, "console: " + st.message());
  FaultPoint("console_open");
  n->run_id = providers::LiveDomainId(live_xml);
  MarkBootThenPlug(key);
}

void NodeLife::MarkBootThenPlug(const std::string& key) {
  Node* n = FindNodeByKey(key);
  // An adopted run keeps the mark its start recorded; a hypervisor without run ids (containers)
  // gives no mark to check a record against, so none is kept.
  if (n->adopting || n->run_id.empty()) {
    if (n->run_id.empty()) n->metadata.boot = {};
    return PlugPorts(key);
  }
  Status queued = OnWorker<Result<providers::BootMark>>(
      [path = ConsoleLogPath(n->lab, n->name), id = n->run_id] { return MarkBootLog(path, id); },
      [this, key](Result<providers::BootMark> mark) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr || n->state != NodeState::kStarting) return;
        if (!mark.ok()) {
          // Without a mark a restarted labvirtd waits for new output, as before marks existed.
          LogWarn("console log not marked", {{"node", key}, {"error", mark.status().ToString()}});
        }
        n->metadata.boot = mark.ok() ? *mark : providers::BootMark{};
        // Written before the guest runs: a labvirtd killed from here on finds this boot's mark.
        writer_.PersistMetadata(*n, [this, key] {
          Node* n = FindNodeByKey(key);
          if (n != nullptr && n->state == NodeState::kStarting) PlugPorts(key);
        });
      });
  if (!queued.ok()) {
    n->metadata.boot = {};
    PlugPorts(key);
  }
}

void NodeLife::CatchUpThenWatch(const std::string& key) {
  Node* n = FindNodeByKey(key);
  Status queued = OnWorker<Result<std::string>>(
      [path = ConsoleLogPath(n->lab, n->name), mark = n->metadata.boot] {
        return ReadBootLog(path, mark, kMaxEarlyConsole);
      },
      [this, key](Result<std::string> logged) {
        Node* n = FindNodeByKey(key);
        if (n == nullptr || n->state != NodeState::kStarting) return;
        if (!logged.ok()) {
          LogWarn("console log of the adopted boot unread; waiting for new output",
                  {{"node", key}, {"error", logged.status().ToString()}});
        } else {
          LogInfo("adopted boot's console log read",
                  {{"node", key}, {"bytes", std::to_string(logged->size())}});
          // The log holds what the PTY gave since the attach as well: read twice, those bytes
          // can only match again what already matched.
          n->early_console.insert(0, *logged);
        }
        WatchReadiness(key);
      });
  if (!queued.ok()) WatchReadiness(key);
}

void NodeLife::PlugPorts(const std::string& key) {
  Node* n = FindNodeByKey(key);
  std::vector<PortPlan> ports;
  for (const auto& nic : n->metadata.nics) {
    if (nic.tap.empty()) continue;
    std::string peer_tap;
    if (!nic.link.empty()) {
      // The link's other end: the other NIC with the same link id in the lab — on another node,
      // or on this one for a loop link (two NICs of one node cabled together).
      for (const auto& [name, other] : labs_.at(n->lab)->nodes) {
        for (const auto& o : other->metadata.nics) {
          if (&o != &nic && o.link == nic.link) peer_tap = o.tap;
        }
      }
    }
    // A management NIC with an address joins its lab's management segment.
    bool on_segment = nic.role == providers::NicRole::kManagement && !n->metadata.mgmt.ipv4.empty();
    ports.push_back({nic.tap, NicKey(nic), nic.link, peer_tap, on_segment ? kMgmtSegment : ""});
  }
  plumber_.Plug(n->lab, n->name, ports, [this, key](Status st) {
    Node* n = FindNodeByKey(key);
    if (n == nullptr || n->state != NodeState::kStarting) return;
    if (!st.ok()) return FailStart(*n, "network: " + st.message());
    FaultPoint("ports_plugged");
    links_.ApplyLinkStates(*n, [this, key](Status st) {
      Node* n = FindNodeByKey(key);
      if (n == nullptr || n->state != NodeState::kStarting) return;
      if (!st.ok()) return FailStart(*n, "network: " + st.message());
      Resume(key);
    });
  });
}

}  // namespace labvirt::engine
