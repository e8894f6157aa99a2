#include "engine/lab/ovs_plumber.h"

#include <set>

#include "engine/lab/identities.h"
#include "engine/netem/netem_netlink.h"
#include "providers/netlink/addresses.h"
#include "providers/node_naming.h"
#include "reactor/base/join.h"
#include "reactor/base/log.h"

namespace labvirt::engine {

OvsPlumber::OvsPlumber(reactor::Reactor& reactor, reactor::WorkerPool& pool,
                       const std::string& remote, const std::string& bridge, bool netdev,
                       std::string instance)
    : pool_(pool), instance_(std::move(instance)) {
  ovs::OvsdbClientOptions co;
  co.remote = remote;
  client_ = std::make_unique<ovs::OvsdbClient>(reactor, co);
  replica_ = std::make_unique<ovs::OvsReplica>(reactor, *client_);
  ovs::OvsSwitchOptions so;
  so.bridge = bridge;
  so.netdev = netdev;
  switch_ = std::make_unique<ovs::OvsSwitch>(reactor, *client_, *replica_, so);
}

OvsPlumber::~OvsPlumber() {
  // The switch and the client go together (pending client callbacks point into the switch).
  switch_.reset();
  replica_.reset();
  client_.reset();
}

void OvsPlumber::Start(Done bridge_ready) {
  client_->Start();
  switch_->EnsureBridge(std::move(bridge_ready));
}

void OvsPlumber::Plug(const std::string& lab, const std::string& node,
                      const std::vector<PortPlan>& ports, Done done) {
  std::vector<ovs::NicPort> nic_ports;
  for (const auto& p : ports) {
    nic_ports.push_back({.port = p.tap,
                         .lab = lab,
                         .node = node,
                         .nic = NicNumber(p.nic),
                         .instance = instance_,
                         .segment = p.segment});
  }
  switch_->AddPorts(std::move(nic_ports), [this, lab, ports, done](Status st) {
    if (!st.ok()) return done(st);
    // Links whose other end is already on the bridge can be joined now; the rest are joined
    // when their peer plugs (it sees this node's ports then).
    std::set<std::string> on_bridge;
    for (const auto& p : switch_->ListOwnedPorts()) on_bridge.insert(p.port);
    // A loop link has both ends among these ports, each naming the other: joined once.
    std::vector<ovs::LinkSpec> links;
    std::set<std::string> joined;
    for (const auto& p : ports) {
      if (p.link.empty() || p.peer_tap.empty() || !on_bridge.count(p.peer_tap)) continue;
      if (!joined.insert(p.link).second) continue;
      links.push_back({lab, p.link, p.tap, p.peer_tap});
    }
    if (links.empty()) return done(Status::Ok());
    switch_->CreateLinks(std::move(links), done);
  });
}

void OvsPlumber::Unplug(const std::string& lab, const std::string& node, Done done) {
  std::vector<std::string> ports;
  for (const auto& p : OwnedPorts()) {
    if (p.lab == lab && p.node == node && p.instance == instance_ && !p.gateway) {
      ports.push_back(p.port);
    }
  }
  if (ports.empty()) return done(Status::Ok());
  switch_->RemovePorts(std::move(ports), std::move(done));
}

void OvsPlumber::SetLink(const std::string& lab, const std::string& link, bool up, Done done) {
  switch_->SetLinkCarrier(lab, link, up, std::move(done));
}

void OvsPlumber::DeleteLinks(const std::string& lab, const std::vector<std::string>& links,
                             Done done) {
  if (links.empty()) return done(Status::Ok());
  auto join = Join::Create(std::move(done));
  for (const auto& l : links) {
    switch_->DeleteLink(lab, l, [end = join->Branch()](Status st) {
      // A link whose ends are already gone is not an error here.
      end(st.code() == StatusCode::kNotFound ? Status::Ok() : st);
    });
  }
  join->Seal();
}

void OvsPlumber::Connect(const std::string& lab, const std::string& link, const std::string& tap_a,
                         const std::string& tap_b, Done done) {
  switch_->CreateLink({lab, link, tap_a, tap_b}, std::move(done));
}

std::vector<PlumbedPort> OvsPlumber::OwnedPorts() const {
  std::vector<PlumbedPort> out;
  for (const auto& p : switch_->ListOwnedPorts()) {
    // A port from before labvirt had instances belongs to the default one.
    out.push_back({.port = p.port,
                   .lab = p.lab,
                   .node = p.node,
                   .instance = p.instance.empty() ? providers::kDefaultInstance : p.instance,
                   .gateway = p.gateway(),
                   .segment = p.segment});
  }
  return out;
}

void OvsPlumber::RemovePorts(const std::vector<std::string>& ports, Done done) {
  if (ports.empty()) return done(Status::Ok());
  switch_->RemovePorts(ports, std::move(done));
}

void OvsPlumber::SetImpairment(const std::string& tap, const Impairment& imp, Done done) {
  QueueKernelChange(
      "netem on " + tap, [tap, imp] { return ApplyNetem(tap, imp); }, std::move(done));
}

void OvsPlumber::PlugGateway(const std::string& lab, const std::string& segment,
                             const std::string& port, const std::vector<std::string>& addresses,
                             Done done) {
  const std::string what = "gateway " + port + " of segment " + lab + "/" + segment;
  for (const std::string& a : addresses) {
    if (auto p = ParseInterfaceAddress(a); !p.ok()) return done(p.status().WithContext(what));
  }
  ovs::GatewayPort gw{.port = port, .lab = lab, .segment = segment, .instance = instance_};
  // `this` owns the switch, which drops this callback unrun if it goes first.
  switch_->AddGatewayPort(std::move(gw), [this, what, port, addresses, done](Status st) {
    if (!st.ok()) return done(st);
    auto configure = [what, port, addresses]() -> Status {
      auto index = providers::WaitForLink(port, kGatewayLinkTimeout);
      Status s = !index.ok() ? index.status().WithContext("ovs-vswitchd made no interface for it")
                             : providers::SetLinkUp(port);
      if (s.ok()) s = providers::SetAddresses(port, addresses);
      return s.ok() ? s : s.WithContext(what);
    };
    QueueKernelChange(what, std::move(configure), done);
  });
}

void OvsPlumber::UnplugGateway(const std::string& lab, const std::string& segment,
                               const std::string& port, Done done) {
  for (const auto& p : switch_->ListOwnedPorts()) {
    if (p.port != port) continue;
    if (!p.gateway() || p.lab != lab || p.segment != segment) {
      return done(FailedPrecondition("port " + port + " is not the gateway of segment " + lab +
                                     "/" + segment));
    }
    return switch_->RemovePorts({port}, std::move(done));
  }
  done(Status::Ok());
}

void OvsPlumber::QueueKernelChange(std::string what, std::function<Status()> work, Done done) {
  kernel_changes_.push_back({std::move(what), std::move(work), std::move(done)});
  if (!kernel_change_running_) NextKernelChange();
}

void OvsPlumber::NextKernelChange() {
  while (!kernel_changes_.empty()) {
    KernelChange change = std::move(kernel_changes_.front());
    kernel_changes_.pop_front();
    Done done = std::move(change.done);
    Status queued =
        pool_.Submit<Status>(std::move(change.work), life_.Bind([this, done](Status st) {
          kernel_change_running_ = false;
          done(std::move(st));
          NextKernelChange();
        }));
    if (queued.ok()) {
      kernel_change_running_ = true;
      return;
    }
    done(queued.WithContext(change.what));
  }
}

}  // namespace labvirt::engine
