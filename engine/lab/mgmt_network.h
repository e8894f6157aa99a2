// MgmtNetwork: every lab's management segment — the part of the engine that makes each node
// reachable from the host at a known address (issue 17; docs/mgmt.md).
//
// A segment is one VLAN on the labvirt bridge that every management NIC of the lab joins (OVS
// external_ids segment=mgmt), a host-side OVS internal port holding the gateway addresses (.1 of
// an IPv4 /24 and an IPv6 /64 from the pools, or the subnet the lab asked for, never one that
// overlaps a host route or another lab), a dnsmasq with one static lease per node keyed on its
// deterministic MAC (engine/mgmt/dhcp_server.h supervises it), and, when asked, an nftables table
// with the lab's port forwards and NAT (engine/mgmt_nat/). The node's address and forwards live in
// its domain metadata (providers::MgmtMetadata), so a labvirtd restart rebuilds the segment from
// the domains and adopts the running dnsmasq.
//
// The order that keeps bad input from leaving anything behind: Plan checks and assigns everything
// before anything is made (a deploy is refused with the field at fault); BringUp makes the
// segment before any node is defined, so a DHCP server that cannot start fails the deploy with
// nothing else made; TearDown runs when the lab's last node is gone.
//
// Loop thread only.
#ifndef LABVIRT_ENGINE_LAB_MGMT_NETWORK_H_
#define LABVIRT_ENGINE_LAB_MGMT_NETWORK_H_

#include <functional>
#include <string>
#include <vector>

#include "engine/lab/engine_part.h"
#include "engine/mgmt/subnet_pool.h"

namespace labvirt::engine {

class MgmtNetwork : public EnginePart {
 public:
  MgmtNetwork(const EngineSeams& seams, LabStore& store) : EnginePart(seams, store) {}

  // Plans the segment of a deploy of `job.spec` and gives each new node whose kind has a
  // management interface its address (and its forwards) in its metadata. Makes a new segment
  // record on `lab` when it has none. InvalidArgument naming the field ("mgmt.subnet",
  // "mgmt.forwards[0].host_port") for a subnet that is malformed, overlaps a host route or another
  // lab, a pool or subnet with no room left, a forward to a node without a management interface
  // or a host port already taken. Nothing is made.
  Status Plan(DeployJob& job, Lab& lab);
  // Makes (or re-makes: every step is idempotent) the lab's segment — gateway port and addresses,
  // DHCP server, NAT — then `done`. Ok at once for a lab without a segment. An error names the
  // step ("management network: DHCP server: …").
  void BringUp(const std::string& lab, std::function<void(Status)> done);
  // Nodes came or went: rewrites the DHCP server's leases from the lab's nodes and re-applies the
  // lab's NAT table (its forwards name the nodes). Failures are logged and shown in lab.get.
  void Refresh(const std::string& lab);
  // Takes the segment down (DHCP server stopped, NAT table removed, gateway port removed, its
  // files deleted) and forgets it; `done` once all of that finished (failures are logged).
  void TearDown(const std::string& lab, std::function<void()> done);
  // After a reconcile pass: rebuilds the segment of every lab whose nodes have addresses and
  // brings it up (adopting the running DHCP server).
  void Adopt();
  // lab.inventory: the Ansible inventory of the lab's nodes that have addresses.
  Result<std::string> Inventory(const std::string& lab, bool yaml) const;

 private:
  // Host routes (labvirt's own gateway ports skipped) and every other lab's subnets.
  std::vector<mgmt::TakenPrefix> Taken(const std::string& except_lab) const;
  // A new segment for `lab` as `spec` asks; errors name the field.
  Result<std::unique_ptr<MgmtSegment>> NewSegment(const std::string& lab,
                                                  const MgmtSpec& spec) const;
  // The lab's forwards checked against each other, other labs and the host's sockets.
  Status CheckForwards(const std::string& lab, const std::vector<ForwardSpec>& forwards) const;
  void StartDhcp(const std::string& lab, std::function<void(Status)> done);
  void ApplyNat(const std::string& lab, std::function<void(Status)> done);
  // Every forward of the lab's nodes (and the job's new nodes while it deploys).
  std::vector<providers::MgmtForward> ForwardsOf(const Lab& lab) const;
  std::string StateDir(const std::string& lab) const;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_MGMT_NETWORK_H_
