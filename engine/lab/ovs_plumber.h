// OvsPlumber: the NetworkPlumber on Open vSwitch. Owns labvirt's OVSDB client, its replica and the
// OvsSwitch; puts each node's taps on the bridge with isolated tags and joins a link's two ends on
// the link's tag once both are on the bridge (whichever node starts second completes the link).
//
// Does not own the reactor (must outlive it). Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_
#define LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/lab/network_plumber.h"
#include "ovs/ovs_replica.h"
#include "ovs/ovs_switch.h"
#include "ovs/ovsdb_client.h"

namespace labvirt::engine {

class OvsPlumber final : public NetworkPlumber {
 public:
  // `remote`: "unix:/PATH" or "tcp:HOST:PORT". `netdev`: userspace datapath (no kernel module).
  // `instance` marks every port it plugs (external_ids instance) and scopes Unplug to them.
  OvsPlumber(reactor::Reactor& reactor, const std::string& remote, const std::string& bridge,
             bool netdev, std::string instance);
  ~OvsPlumber() override;

  // Connects and makes sure the bridge exists (once the replica is synced).
  void Start(Done bridge_ready);
  bool connected() const { return client_->connected(); }
  uint64_t connects() const { return client_->connects(); }
  void SetLatencyObserver(ovs::OvsdbClient::LatencyObserver cb) {
    client_->SetLatencyObserver(std::move(cb));
  }

  void Plug(const std::string& lab, const std::string& node, const std::vector<PortPlan>& ports,
            Done done) override;
  void Unplug(const std::string& lab, const std::string& node, Done done) override;
  void SetLink(const std::string& lab, const std::string& link, bool up, Done done) override;
  void DeleteLinks(const std::string& lab, const std::vector<std::string>& links,
                   Done done) override;
  void Connect(const std::string& lab, const std::string& link, const std::string& tap_a,
               const std::string& tap_b, Done done) override;
  std::vector<PlumbedPort> OwnedPorts() const override;
  void RemovePorts(const std::vector<std::string>& ports, Done done) override;
  // netem through rtnetlink (engine/netem/netem_netlink.h), on the loop thread: the kernel
  // handles the request inside the send.
  void SetImpairment(const std::string& tap, const Impairment& imp, Done done) override;

 private:
  const std::string instance_;
  std::unique_ptr<ovs::OvsdbClient> client_;
  std::unique_ptr<ovs::OvsReplica> replica_;
  std::unique_ptr<ovs::OvsSwitch> switch_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_
