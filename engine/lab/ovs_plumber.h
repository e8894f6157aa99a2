// OvsPlumber: the NetworkPlumber on Open vSwitch. Owns labvirt's OVSDB client, its replica and the
// OvsSwitch; puts each node's taps on the bridge with isolated tags and joins a link's two ends on
// the link's tag once both are on the bridge (whichever node starts second completes the link).
//
// Does not own the reactor or the worker pool (both must outlive it). Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_
#define LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/lab/lifeline.h"
#include "engine/lab/network_plumber.h"
#include "ovs/ovs_replica.h"
#include "ovs/ovs_switch.h"
#include "ovs/ovsdb_client.h"
#include "reactor/worker_pool.h"

namespace labvirt::engine {

class OvsPlumber final : public NetworkPlumber {
 public:
  // `remote`: "unix:/PATH" or "tcp:HOST:PORT". `netdev`: userspace datapath (no kernel module).
  // `instance` marks every port it plugs (external_ids instance) and scopes Unplug to them.
  OvsPlumber(reactor::Reactor& reactor, reactor::WorkerPool& pool, const std::string& remote,
             const std::string& bridge, bool netdev, std::string instance);
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
  // netem through rtnetlink (engine/netem/netem_netlink.h) on the worker pool, one kernel change
  // (netem or gateway) at a time in the order asked: the request waits for the kernel's rtnl lock
  // (up to its 2 s timeout), which the loop must not, and two changes of one device on two workers
  // could land in either order.
  void SetImpairment(const std::string& tap, const Impairment& imp, Done done) override;
  // AddGatewayPort, then as a kernel change on the worker pool: waits up to kGatewayLinkTimeout for
  // ovs-vswitchd to create the port's kernel interface (a few ms when it runs), brings it up and
  // sets its addresses (providers/netlink/addresses.h). Bad addresses are refused before any
  // change.
  void PlugGateway(const std::string& lab, const std::string& segment, const std::string& port,
                   const std::vector<std::string>& addresses, Done done) override;
  void UnplugGateway(const std::string& lab, const std::string& segment, const std::string& port,
                     Done done) override;

  // How long PlugGateway waits for ovs-vswitchd to create the gateway's interface; measured at
  // 3-12 ms on the userspace datapath, so this is only reached when vswitchd is not running.
  static constexpr std::chrono::seconds kGatewayLinkTimeout{5};

 private:
  // A blocking rtnetlink change, run on the pool; `what` names it in a queueing error.
  struct KernelChange {
    std::string what;
    std::function<Status()> work;
    Done done;
  };
  void QueueKernelChange(std::string what, std::function<Status()> work, Done done);
  // Starts the oldest queued change unless one is running.
  void NextKernelChange();

  reactor::WorkerPool& pool_;
  const std::string instance_;
  std::unique_ptr<ovs::OvsdbClient> client_;
  std::unique_ptr<ovs::OvsReplica> replica_;
  std::unique_ptr<ovs::OvsSwitch> switch_;
  std::deque<KernelChange> kernel_changes_;
  bool kernel_change_running_ = false;
  Lifeline life_;  // last: a change finishing after the plumber is gone does nothing
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_OVS_PLUMBER_H_
