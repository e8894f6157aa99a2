// MgmtNetwork (engine/lab/mgmt_network.h): plans, makes, supervises and removes the labs'
// management segments.
#include "engine/lab/mgmt_network.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include "engine/mgmt_nat/host_ports.h"
#include "engine/mgmt_nat/nft.h"
#include "reactor/base/log.h"

namespace labvirt::engine {
namespace {

std::string Cidr(const std::string& address, int length) {
  return address + "/" + std::to_string(length);
}

// The node of the job or of the lab named `name`.
const Node* NodeNamed(const DeployJob& job, const Lab& lab, const std::string& name) {
  for (const auto& n : job.nodes) {
    if (n->name == name) return n.get();
  }
  auto it = lab.nodes.find(name);
  return it == lab.nodes.end() ? nullptr : it->second.get();
}

std::vector<providers::MgmtForward> ForwardsFor(const std::vector<ForwardSpec>& all,
                                                const std::string& node) {
  std::vector<providers::MgmtForward> out;
  for (const auto& f : all) {
    if (f.node == node) out.push_back({f.protocol, f.host_port, f.port});
  }
  return out;
}

// The nodes' forwards, as the NAT rules name them.
std::vector<mgmt::PortForward> NatForwards(const Lab& lab) {
  std::vector<mgmt::PortForward> out;
  for (const auto& [name, n] : lab.nodes) {
    for (const auto& f : n->metadata.mgmt.forwards) {
      out.push_back({f.protocol, f.host_port, name, AddressOf(n->metadata.mgmt.ipv4), f.port});
    }
  }
  return out;
}

bool NeedsNat(const Lab& lab) { return lab.mgmt && (lab.mgmt->nat || !NatForwards(lab).empty()); }

}  // namespace

std::string MgmtNetwork::StateDir(const std::string& lab) const {
  return options_.state_dir + "/mgmt/" + lab;
}

std::vector<mgmt::TakenPrefix> MgmtNetwork::Taken(const std::string& except_lab) const {
  std::set<std::string> own;  // our labs' gateway ports: their routes are listed by lab below
  for (const auto& [name, lab] : labs_) {
    if (lab->mgmt) own.insert("host route on " + lab->mgmt->interface);
  }
  std::vector<mgmt::TakenPrefix> taken;
  for (auto& t : mgmt::ReadHostRoutes("")) {
    if (!own.count(t.by)) taken.push_back(std::move(t));
  }
  for (const auto& [name, lab] : labs_) {
    if (name == except_lab || !lab->mgmt) continue;
    taken.push_back({lab->mgmt->ipv4, "lab '" + name + "'"});
    if (lab->mgmt->ipv6) taken.push_back({*lab->mgmt->ipv6, "lab '" + name + "'"});
  }
  return taken;
}

Result<std::unique_ptr<MgmtSegment>> MgmtNetwork::NewSegment(const std::string& lab,
                                                             const MgmtSpec& spec) const {
  auto seg = std::make_unique<MgmtSegment>();
  std::vector<mgmt::TakenPrefix> taken = Taken(lab);
  // One address family after the other, the same way: the lab's own subnet checked, or the
  // pool's next free one.
  struct Family {
    const std::optional<std::string>& wanted;
    const std::string& pool;
    int length, min_length, max_length;
    const char* field;
  };
  for (const Family& f :
       {Family{spec.subnet, options_.mgmt_pool_ipv4, 24, 16, 29, "mgmt.subnet"},
        Family{spec.subnet_ipv6, options_.mgmt_pool_ipv6, 64, 64, 64, "mgmt.ipv6"}}) {
    bool v6 = f.length == 64;
    if (v6 && !spec.ipv6 && !spec.subnet_ipv6) continue;
    Result<IpPrefix> chosen = InvalidArgument("unset");
    if (f.wanted) {
      chosen = ParsePrefix(*f.wanted);
      if (!chosen.ok()) return InvalidField(f.field, chosen.status().message());
      if (chosen->family != (v6 ? AF_INET6 : AF_INET) || chosen->length < f.min_length ||
          chosen->length > f.max_length) {
        return InvalidField(f.field,
                            *f.wanted + " is not an " + (v6 ? "IPv6 /64" : "IPv4 /16../29"));
      }
      if (Status st = mgmt::CheckSubnet(*chosen, taken); !st.ok()) {
        return InvalidField(f.field, st.message());
      }
    } else {
      auto pool = ParsePrefix(f.pool);
      if (!pool.ok())
        return InvalidField(f.field, "the pool " + f.pool + ": " + pool.status().message());
      chosen = mgmt::ChooseSubnet(*pool, f.length, taken);
      if (!chosen.ok()) return InvalidField(f.field, chosen.status().message());
    }
    auto gateway = NthAddress(*chosen, 1);
    if (!gateway.ok()) return InvalidField(f.field, gateway.status().message());
    (v6 ? seg->gateway_ipv6 : seg->gateway_ipv4) = *gateway;
    if (v6) {
      seg->ipv6 = *chosen;
    } else {
      seg->ipv4 = *chosen;
    }
  }
  seg->interface = GatewayPortName(options_.instance, lab);
  for (const auto& [name, other] : labs_) {
    if (name != lab && other->mgmt && other->mgmt->interface == seg->interface) {
      return InvalidField("lab", "lab '" + lab + "' and lab '" + name +
                                     "' hash to one gateway port name; rename one");
    }
  }
  seg->nat = spec.nat;
  return seg;
}

Status MgmtNetwork::CheckForwards(const std::string& lab,
                                  const std::vector<ForwardSpec>& forwards) const {
  std::vector<mgmt::PortForward> mine, others;
  for (const auto& f : forwards) mine.push_back({f.protocol, f.host_port, f.node, "", f.port});
  for (const auto& [name, other] : labs_) {
    if (name == lab) continue;
    for (auto& f : NatForwards(*other)) others.push_back(std::move(f));
  }
  std::set<std::pair<std::string, int>> seen;
  for (size_t i = 0; i < forwards.size(); ++i) {
    if (!seen.insert({forwards[i].protocol, forwards[i].host_port}).second) {
      return InvalidField("mgmt.forwards[" + std::to_string(i) + "].host_port",
                          forwards[i].protocol + " " + std::to_string(forwards[i].host_port) +
                              " is forwarded twice");
    }
  }
  Status st = mgmt::CheckHostPortsFree(mine, others);
  if (!st.ok()) return InvalidField("mgmt.forwards", st.message());
  return Status::Ok();
}

Status MgmtNetwork::Plan(DeployJob& job, Lab& lab) {
  const MgmtSpec& m = job.spec.mgmt;
  bool asked = m.subnet || m.subnet_ipv6 || m.nat || !m.forwards.empty();
  if (!options_.mgmt) {
    if (!asked) return Status::Ok();
    return InvalidField("mgmt",
                        "this labvirtd makes no management networks (it runs without "
                        "OVS, or with --mgmt none)");
  }
  if (!m.enabled) return Status::Ok();
  for (size_t i = 0; i < m.forwards.size(); ++i) {
    const Node* n = NodeNamed(job, lab, m.forwards[i].node);
    if (n && !n->kind->management_nic) {
      return InvalidField("mgmt.forwards[" + std::to_string(i) + "].node",
                          "node " + n->name + " (kind " + n->kind->name +
                              ") has no management interface to forward to");
    }
  }
  std::vector<Node*> need;
  for (auto& n : job.nodes) {
    if (n->kind->management_nic && n->state != NodeState::kFailed) need.push_back(n.get());
  }
  if (!lab.mgmt && need.empty()) return Status::Ok();
  std::unique_ptr<MgmtSegment> fresh;
  if (lab.mgmt) {
    // A re-deploy converges nodes and links; the segment stays as it was made.
    std::string have = FormatPrefix(lab.mgmt->ipv4);
    if (m.subnet && *m.subnet != have) {
      return InvalidField("mgmt.subnet", "lab '" + lab.name + "' has management subnet " + have +
                                             "; destroy the lab to move it");
    }
    if (m.nat != lab.mgmt->nat) {
      return InvalidField("mgmt.nat", std::string("lab '") + lab.name + "' was deployed with nat " +
                                          (lab.mgmt->nat ? "on" : "off") +
                                          "; destroy the lab to change it");
    }
    for (const auto& [name, n] : lab.nodes) {
      if (n->metadata.mgmt.forwards != ForwardsFor(m.forwards, name)) {
        return InvalidField("mgmt.forwards", "node " + name +
                                                 " exists with other forwards; they are set when "
                                                 "a node is deployed");
      }
    }
  } else {
    auto made = NewSegment(lab.name, m);
    if (!made.ok()) return made.status();
    fresh = std::move(made).value();
  }
  LABVIRT_RETURN_IF_ERROR(CheckForwards(lab.name, m.forwards));
  const MgmtSegment& seg = lab.mgmt ? *lab.mgmt : *fresh;
  std::set<uint64_t> used;
  for (const auto& [name, n] : lab.nodes) {
    if (n->metadata.mgmt.ipv4.empty()) continue;
    auto index = AddressIndex(seg.ipv4, AddressOf(n->metadata.mgmt.ipv4));
    if (index.ok()) used.insert(*index);
  }
  // .0 network, .1 gateway, .2-.9 kept for the host, the last one broadcast.
  uint64_t last = (uint64_t{1} << (32 - seg.ipv4.length)) - 2;
  uint64_t next = kFirstNodeHost;
  for (Node* n : need) {
    while (used.count(next)) ++next;
    if (next > last) {
      return InvalidField(
          m.subnet ? "mgmt.subnet" : "mgmt",
          "management subnet " + FormatPrefix(seg.ipv4) + " has room for " +
              std::to_string(last >= kFirstNodeHost ? last - kFirstNodeHost + 1 : 0) +
              " nodes, and lab '" + lab.name + "' needs more");
    }
    used.insert(next);
    providers::MgmtMetadata& md = n->metadata.mgmt;
    md = {};
    auto v4 = NthAddress(seg.ipv4, next);
    if (!v4.ok()) return InvalidField("mgmt", v4.status().message());
    md.ipv4 = Cidr(*v4, seg.ipv4.length);
    md.gateway_ipv4 = seg.gateway_ipv4;
    if (seg.ipv6) {
      auto v6 = NthAddress(*seg.ipv6, next);
      if (!v6.ok()) return InvalidField("mgmt.ipv6", v6.status().message());
      md.ipv6 = Cidr(*v6, seg.ipv6->length);
      md.gateway_ipv6 = seg.gateway_ipv6;
    }
    md.nat = seg.nat;
    md.forwards = ForwardsFor(m.forwards, n->name);
  }
  if (fresh) lab.mgmt = std::move(fresh);
  return Status::Ok();
}

void MgmtNetwork::BringUp(const std::string& lab_name, std::function<void(Status)> done) {
  Lab* lab = labs_.count(lab_name) ? labs_.at(lab_name).get() : nullptr;
  if (lab == nullptr || !lab->mgmt) return done(Status::Ok());
  MgmtSegment& s = *lab->mgmt;
  auto fail = [this, lab_name, done](const std::string& step, const Status& st) {
    std::string why = "management network: " + step + ": " + st.message();
    if (labs_.count(lab_name) && labs_.at(lab_name)->mgmt) {
      labs_.at(lab_name)->mgmt->state = "failed";
      labs_.at(lab_name)->mgmt->error = why;
    }
    LogWarn("management segment not up", {{"lab", lab_name}, {"error", why}});
    done(Status(st.code(), why));
  };
  std::vector<std::string> addresses{Cidr(s.gateway_ipv4, s.ipv4.length)};
  if (s.ipv6) addresses.push_back(Cidr(s.gateway_ipv6, s.ipv6->length));
  plumber_.PlugGateway(lab_name, kMgmtSegment, s.interface, addresses,
                       [this, lab_name, done, fail](Status st) {
                         if (!st.ok()) return fail("gateway port", st);
                         StartDhcp(lab_name, [this, lab_name, done, fail](Status st) {
                           if (!st.ok()) return fail("DHCP server", st);
                           ApplyNat(lab_name, [this, lab_name, done, fail](Status st) {
                             if (!st.ok()) return fail("NAT", st);
                             if (labs_.count(lab_name) && labs_.at(lab_name)->mgmt) {
                               labs_.at(lab_name)->mgmt->state = "up";
                               labs_.at(lab_name)->mgmt->error.clear();
                             }
                             done(Status::Ok());
                           });
                         });
                       });
}

void MgmtNetwork::StartDhcp(const std::string& lab_name, std::function<void(Status)> done) {
  Lab* lab = labs_.count(lab_name) ? labs_.at(lab_name).get() : nullptr;
  if (lab == nullptr || !lab->mgmt) return done(Cancelled("the lab is gone"));
  MgmtSegment& s = *lab->mgmt;
  if (s.dhcp && s.dhcp->running()) {
    return done(s.dhcp->SetLeases(LeasesOf(*lab)));
  }
  std::error_code ec;
  std::filesystem::create_directories(StateDir(lab_name), ec);
  if (ec) return done(Internal("create " + StateDir(lab_name) + ": " + ec.message()));
  mgmt::DhcpServerOptions o;
  o.binary = options_.dnsmasq;
  o.segment.name = lab_name;
  o.segment.interface = s.interface;
  o.segment.ipv4 = s.ipv4;
  o.segment.gateway_ipv4 = s.gateway_ipv4;
  o.segment.ipv6 = s.ipv6;
  o.segment.gateway_ipv6 = s.gateway_ipv6;
  o.segment.default_route = s.nat;  // a default route only where it leads somewhere
  o.segment.dir = StateDir(lab_name);
  s.dhcp = std::make_unique<mgmt::DhcpServer>(reactor_, std::move(o));
  s.dhcp->Start(LeasesOf(*lab), life_.Bind(std::move(done)));
}

void MgmtNetwork::ApplyNat(const std::string& lab_name, std::function<void(Status)> done) {
  Lab* lab = labs_.count(lab_name) ? labs_.at(lab_name).get() : nullptr;
  if (lab == nullptr || !NeedsNat(*lab)) return done(Status::Ok());
  mgmt::NatPlan plan;
  plan.lab = lab_name;
  plan.table = NatTableName(options_.instance, lab_name);
  plan.interface = lab->mgmt->interface;
  plan.subnet_ipv4 = FormatPrefix(lab->mgmt->ipv4);
  plan.masquerade = lab->mgmt->nat;
  plan.forwards = NatForwards(*lab);
  Status st = OnWorker<Status>(
      [plan, nft = options_.nft] {
        if (plan.masquerade) {
          auto turned_on = mgmt::EnsureIpForwarding();
          if (!turned_on.ok()) return turned_on.status();
          if (*turned_on) {
            LogInfo("turned on net.ipv4.ip_forward for a lab's NAT (labvirt never turns it off)",
                    {{"lab", plan.lab}});
          }
        }
        return mgmt::ApplyNat(plan, nft);
      },
      done);
  if (!st.ok()) done(st);
}

void MgmtNetwork::Refresh(const std::string& lab_name) {
  Lab* lab = labs_.count(lab_name) ? labs_.at(lab_name).get() : nullptr;
  if (lab == nullptr || !lab->mgmt || !lab->mgmt->dhcp) return;
  Status st = lab->mgmt->dhcp->SetLeases(LeasesOf(*lab));
  if (!st.ok()) LogWarn("DHCP leases not rewritten", {{"lab", lab_name}, {"error", st.ToString()}});
  ApplyNat(lab_name, [this, lab_name](Status st) {
    if (st.ok() || !labs_.count(lab_name) || !labs_.at(lab_name)->mgmt) return;
    LogWarn("management NAT not applied", {{"lab", lab_name}, {"error", st.ToString()}});
    labs_.at(lab_name)->mgmt->error = "management network: NAT: " + st.message();
  });
}

void MgmtNetwork::TearDown(const std::string& lab_name, std::function<void()> done) {
  Lab* lab = labs_.count(lab_name) ? labs_.at(lab_name).get() : nullptr;
  if (lab == nullptr || !lab->mgmt) return done();
  // Whether the lab had a table cannot be read from its nodes any more (a destroy removes them
  // first), so the table goes whenever nft is there: removing an absent one is no error.
  bool nat = ::access(options_.nft.c_str(), X_OK) == 0;
  std::string table = NatTableName(options_.instance, lab_name);
  std::string port = lab->mgmt->interface;
  std::string dir = StateDir(lab_name);
  auto logged = [lab_name](const char* what, const Status& st) {
    if (!st.ok()) LogWarn(what, {{"lab", lab_name}, {"error", st.ToString()}});
  };
  // Last: the port and the files, then the record.
  auto unplug = [this, lab_name, port, dir, done, logged] {
    plumber_.UnplugGateway(lab_name, kMgmtSegment, port,
                           [this, lab_name, dir, done, logged](Status st) {
                             logged("management gateway port not removed", st);
                             Status queued = OnWorker<bool>(
                                 [dir] {
                                   std::error_code ec;
                                   std::filesystem::remove_all(dir, ec);
                                   return !ec;
                                 },
                                 [this, lab_name, done](bool) {
                                   if (labs_.count(lab_name)) labs_.at(lab_name)->mgmt.reset();
                                   done();
                                 });
                             if (!queued.ok()) {
                               if (labs_.count(lab_name)) labs_.at(lab_name)->mgmt.reset();
                               done();
                             }
                           });
  };
  auto remove_nat = [this, nat, table, unplug, logged] {
    if (!nat) return unplug();
    Status queued =
        OnWorker<Status>([table, nft = options_.nft] { return mgmt::RemoveNat(table, nft); },
                         [unplug, logged](Status st) {
                           logged("NAT table not removed", st);
                           unplug();
                         });
    if (!queued.ok()) unplug();
  };
  if (lab->mgmt->dhcp) return lab->mgmt->dhcp->Stop(life_.Bind(std::function<void()>(remove_nat)));
  remove_nat();
}

void MgmtNetwork::Adopt() {
  for (const auto& [name, lab] : labs_) {
    if (!lab->mgmt) {
      const providers::MgmtMetadata* md = nullptr;
      for (const auto& [nn, n] : lab->nodes) {
        if (!n->metadata.mgmt.ipv4.empty()) md = &n->metadata.mgmt;
      }
      if (md == nullptr) continue;
      auto v4 = ParseInterfaceAddress(md->ipv4);
      if (!v4.ok()) {
        LogWarn("management segment not rebuilt",
                {{"lab", name}, {"error", v4.status().ToString()}});
        continue;
      }
      auto seg = std::make_unique<MgmtSegment>();
      seg->ipv4 = labvirt::NetworkOf(*v4);
      seg->gateway_ipv4 = md->gateway_ipv4;
      if (!md->ipv6.empty()) {
        auto v6 = ParseInterfaceAddress(md->ipv6);
        if (v6.ok()) {
          seg->ipv6 = labvirt::NetworkOf(*v6);
          seg->gateway_ipv6 = md->gateway_ipv6;
        }
      }
      seg->nat = md->nat;
      seg->interface = GatewayPortName(options_.instance, name);
      lab->mgmt = std::move(seg);
    }
    BringUp(name, [](Status) {});  // a failure is logged and shown in lab.get
  }
}

Result<std::string> MgmtNetwork::Inventory(const std::string& lab, bool yaml) const {
  auto it = labs_.find(lab);
  if (it == labs_.end()) return NotFound("no lab named '" + lab + "'").WithField("lab");
  return InventoryOf(*it->second, yaml);
}

}  // namespace labvirt::engine
