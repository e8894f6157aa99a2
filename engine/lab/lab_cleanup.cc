// LeftoverSweep::Cleanup: what labvirt made on this host but no node claims any more — OVS ports,
// overlay disks, console logs, day-0 configs and media, management segments of labs that are
// gone (their dnsmasq, nft table and files) — found and removed; labvirt domains it
// could not adopt reported. Ownership is by labvirt's own marks only: external_ids owner=labvirt on
// ports, the state directory's layout for files, labvirt's metadata namespace for domains. Nothing
// else is touched, and nothing of another labvirt instance (docs/instances.md): its ports are left
// alone and its domains are listed as foreign, not as leftovers.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <tuple>
#include <vector>

#include "engine/lab/leftover_sweep.h"
#include "engine/mgmt/process_util.h"
#include "engine/mgmt_nat/nft.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

struct LeftoverSweep::Leftovers {
  std::vector<std::string> ports, overlays, logs, day0;
  std::vector<std::string> mgmt;  // management segments' state directories of labs that are gone
  std::vector<std::pair<std::string, std::string>> domains;  // name, why it is not adopted
  std::vector<std::pair<std::string, std::string>> foreign;  // another instance's: name, instance
};

namespace {

using Leftovers = LeftoverSweep::Leftovers;

// Files under STATE/overlays/LAB/*.qcow2, STATE/logs/LAB/*.console.log and
// STATE/day0/LAB/*.{cfg,img,iso} not in `claimed`. Removes them (and lab directories left empty)
// unless `dry_run`.
void SweepFiles(const std::string& state_dir, const std::set<std::string>& claimed, bool dry_run,
                Leftovers* out) {
  namespace fs = std::filesystem;
  std::vector<std::tuple<std::string, std::string, std::vector<std::string>*>> kinds = {
      {providers::OverlayRoot(state_dir), providers::kOverlaySuffix, &out->overlays},
      {providers::LogRoot(state_dir), providers::kConsoleLogSuffix, &out->logs}};
  for (const char* suffix : providers::kDay0Suffixes) {
    kinds.emplace_back(providers::Day0Root(state_dir), suffix, &out->day0);
  }
  for (const auto& [root_dir, suffix, list] : kinds) {
    std::error_code ec;
    fs::path root = root_dir;
    for (const auto& lab_dir : fs::directory_iterator(root, ec)) {
      if (!lab_dir.is_directory(ec)) continue;
      for (const auto& f : fs::directory_iterator(lab_dir.path(), ec)) {
        std::string path = f.path().string();
        if (!f.is_regular_file(ec) || claimed.count(path)) continue;
        if (path.size() < suffix.size() ||
            path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
          continue;  // not a name labvirt gives (e.g. an overlay being written: *.tmp)
        }
        list->push_back(path);
        if (!dry_run) fs::remove(f.path(), ec);
      }
      if (!dry_run && fs::is_empty(lab_dir.path(), ec)) fs::remove(lab_dir.path(), ec);
    }
  }
}

// STATE/mgmt/LAB/ of a lab not in `labs` (a labvirtd that died while destroying it): its dnsmasq
// (found by its pid file, and only if /proc says it is a dnsmasq run from that directory) is
// ended, its nft table (named from the lab, so only this instance's) removed, the directory
// deleted — unless `dry_run`.
void SweepSegments(const std::string& state_dir, const std::string& instance,
                   const std::string& nft, const std::set<std::string>& labs, bool dry_run,
                   Leftovers* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(fs::path(state_dir) / "mgmt", ec)) {
    std::string lab = dir.path().filename().string();
    if (!dir.is_directory(ec) || labs.count(lab)) continue;
    out->mgmt.push_back(dir.path().string());
    if (dry_run) continue;
    if (auto pid = mgmt::ReadPidFile((dir.path() / "dnsmasq.pid").string())) {
      auto cmdline = mgmt::ProcessCmdline(*pid);
      bool ours = false;
      for (const auto& arg : cmdline.value_or(std::vector<std::string>{})) {
        ours = ours || arg.find(dir.path().string()) != std::string::npos;
      }
      if (ours) ::kill(*pid, SIGTERM);
    }
    if (::access(nft.c_str(), X_OK) == 0) {
      Status st = mgmt::RemoveNat(NatTableName(instance, lab), nft);
      if (!st.ok())
        LogWarn("stray NAT table not removed", {{"lab", lab}, {"error", st.ToString()}});
    }
    fs::remove_all(dir.path(), ec);
  }
}

std::string LeftoversJson(bool dry_run, const Leftovers& l) {
  JsonWriter w;
  w.BeginObject().Key("dry_run").Bool(dry_run);
  for (const auto& [key, list] :
       {std::pair{"ports", &l.ports}, std::pair{"overlays", &l.overlays},
        std::pair{"logs", &l.logs}, std::pair{"day0", &l.day0}, std::pair{"mgmt", &l.mgmt}}) {
    w.Key(key).BeginArray();
    for (const auto& x : *list) w.String(x);
    w.EndArray();
  }
  w.Key("domains").BeginArray();
  for (const auto& [name, why] : l.domains) {
    w.BeginObject().Key("name").String(name).Key("reason").String(why).EndObject();
  }
  w.EndArray().Key("foreign").BeginArray();
  for (const auto& [name, instance] : l.foreign) {
    w.BeginObject().Key("name").String(name).Key("instance").String(instance).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace

void LeftoverSweep::Cleanup(bool dry_run, Reply reply) {
  auto found = std::make_shared<Leftovers>();
  // Ports: a port is claimed by a node that knows its tap and whose VM may be running.
  for (const auto& p : plumber_.OwnedPorts()) {
    if (p.instance != options_.instance) continue;  // another labvirtd's: its node may well run
    if (p.gateway) {
      // A management segment's gateway has no node: it is its lab's while the lab exists here.
      bool deploying = false;
      for (const auto& [id, job] : jobs_) deploying = deploying || job->spec.name == p.lab;
      if (!labs_.count(p.lab) && !deploying) found->ports.push_back(p.port);
      continue;
    }
    const Node* n = FindNode(p.lab, p.node);
    bool claimed = false;
    if (n != nullptr && (IsActive(n->state) || n->state == NodeState::kFailed)) {
      for (const auto& nic : n->metadata.nics) claimed = claimed || nic.tap == p.port;
    }
    if (!claimed) found->ports.push_back(p.port);
  }
  std::set<std::string> claimed_files, known_domains;
  auto claim = [&](const Node& n) {
    claimed_files.insert(n.overlay);
    claimed_files.insert(ConsoleLogPath(n.lab, n.name));
    if (!n.config_medium.empty()) {
      claimed_files.insert(n.config_medium);
      claimed_files.insert(providers::Day0TextPath(options_.state_dir, n.lab, n.name));
    }
    known_domains.insert(n.domain);
  };
  for (const auto& [ln, lab] : labs_) {
    for (const auto& [nn, n] : lab->nodes) claim(*n);
  }
  for (const auto& [id, job] : jobs_) {  // a deploy in flight is making these right now
    for (const auto& n : job->nodes) claim(*n);
  }
  hv_.ListDomains([this, found, dry_run, claimed_files, known_domains,
                   reply](Result<std::vector<providers::DomainInfo>> domains) {
    if (!domains.ok()) {
      return reply(
          Internal(domains.status().message()).WithField("domains").WithSummary("libvirt"));
    }
    SortDomains(*domains, known_domains, found.get());
    std::string state_dir = options_.state_dir;
    std::set<std::string> labs;  // a lab deploying now may be making its segment
    for (const auto& [name, lab] : labs_) labs.insert(name);
    for (const auto& [id, job] : jobs_) labs.insert(job->spec.name);
    Status st = OnWorker<std::shared_ptr<Leftovers>>(
        [state_dir, claimed_files, dry_run, found, labs, instance = options_.instance,
         nft = options_.nft] {
          SweepFiles(state_dir, claimed_files, dry_run, found.get());
          SweepSegments(state_dir, instance, nft, labs, dry_run, found.get());
          return found;
        },
        [this, dry_run, reply](std::shared_ptr<Leftovers> found) {
          auto finish = [this, dry_run, found, reply](Status st) {
            Answer(dry_run, *found, st, reply);
          };
          if (dry_run || found->ports.empty()) return finish(Status::Ok());
          plumber_.RemovePorts(found->ports, finish);
        });
    if (!st.ok()) reply(Internal(st.message()).WithField("pool").WithSummary("busy"));
  });
}

void LeftoverSweep::SortDomains(const std::vector<providers::DomainInfo>& domains,
                                const std::set<std::string>& known, Leftovers* found) const {
  for (const auto& d : domains) {
    if (d.metadata.empty() || known.count(d.name)) continue;
    auto md =
        providers::ParseNodeMetadata("<domain><metadata>" + d.metadata + "</metadata></domain>");
    std::string why;
    if (md.ok() && md->instance != options_.instance) {
      found->foreign.push_back({d.name, md->instance});
      continue;
    }
    if (!md.ok()) {
      why = "unreadable labvirt metadata: " + md.status().message();
    } else if (!catalog_.Resolve(md->kind).ok()) {
      why = "kind '" + md->kind + "' is not in the catalog";
    } else {
      why = "labvirt node " + md->lab + "/" + md->node +
            " is not tracked here (defined since the last reconcile?)";
    }
    found->domains.push_back({d.name, why});
  }
}

void LeftoverSweep::Answer(bool dry_run, const Leftovers& found, const Status& st,
                           const Reply& reply) {
  std::string json = LeftoversJson(dry_run, found);
  if (!st.ok()) {
    return reply(Internal(st.message()).WithField("ports").WithSummary("ports not removed"));
  }
  size_t total = found.ports.size() + found.overlays.size() + found.logs.size() +
                 found.day0.size() + found.mgmt.size() + found.domains.size();
  if (total > 0) {
    LogInfo(dry_run ? "leftovers found" : "leftovers removed",
            {{"ports", std::to_string(found.ports.size())},
             {"overlays", std::to_string(found.overlays.size())},
             {"logs", std::to_string(found.logs.size())},
             {"day0", std::to_string(found.day0.size())},
             {"mgmt", std::to_string(found.mgmt.size())},
             {"unadopted_domains", std::to_string(found.domains.size())}});
    Emit("host.leftovers", nullptr, json);
  }
  reply(json);
}

}  // namespace labvirt::engine
