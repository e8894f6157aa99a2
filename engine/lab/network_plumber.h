// NetworkPlumber: the seam through which the engine puts a node's taps on the OVS bridge and takes
// them off again, and plugs each lab's management-segment gateway (the host's side of it). The
// OVS implementation allocates host-wide VLAN tags (an isolated tag per unlinked NIC, one shared
// tag per link or management segment) and writes the ports in one transaction per call.
// NullPlumber does nothing (a host without OVS, and unit tests).
#ifndef LABVIRT_ENGINE_LAB_NETWORK_PLUMBER_H_
#define LABVIRT_ENGINE_LAB_NETWORK_PLUMBER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/netem/impairment.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct PortPlan {
  std::string tap;       // the tap libvirt created for the NIC
  std::string nic;       // NIC key: "0", "1", … for data NICs, "m", "r0" …
  std::string link;      // link id, empty when unlinked
  std::string peer_tap;  // the tap at the link's other end (may not be on the bridge yet)
  // The lab's management segment the NIC joins ("" = none): the port carries the segment's tag
  // (shared with the segment's gateway) instead of an isolated one. Such a NIC has no link.
  std::string segment{};
};

// A port labvirt owns on the bridge, as the plumber sees it.
struct PlumbedPort {
  std::string port;  // the tap
  std::string lab;
  std::string node;
  std::string instance;  // the labvirt instance that plugged it (kDefaultInstance if unmarked)
  // A management segment's gateway (PlugGateway): `node` is empty and no node claims it; it
  // belongs to the lab as long as the lab exists.
  bool gateway = false;
  std::string segment{};  // the management segment of a gateway or NIC port ("" = none)
};

class NetworkPlumber {
 public:
  using Done = std::function<void(Status)>;
  virtual ~NetworkPlumber() = default;
  // Adds (or re-adds after a restart) the ports of one node. Loop thread; `done` on the loop.
  virtual void Plug(const std::string& lab, const std::string& node,
                    const std::vector<PortPlan>& ports, Done done) = 0;
  // Removes the node's port rows (its taps vanished with the VM).
  virtual void Unplug(const std::string& lab, const std::string& node, Done done) = 0;
  // Moves a link's two ends onto its shared tag (`up`) or onto isolated tags (`!up`).
  virtual void SetLink(const std::string& lab, const std::string& link, bool up, Done done) = 0;
  // Forgets links (their tags go back to the pool); ends still on the bridge become isolated.
  virtual void DeleteLinks(const std::string& lab, const std::vector<std::string>& links,
                           Done done) = 0;
  // Joins two taps that are both on the bridge into a new link (both get the link's tag).
  virtual void Connect(const std::string& lab, const std::string& link, const std::string& tap_a,
                       const std::string& tap_b, Done done) = 0;
  // Every port labvirt owns on the bridge (from the local replica; no I/O).
  virtual std::vector<PlumbedPort> OwnedPorts() const = 0;
  // Removes port rows by name, whoever they belonged to.
  virtual void RemovePorts(const std::vector<std::string>& ports, Done done) = 0;
  // Shapes the frames leaving the host through `tap` (what its node receives) as `imp` says; an
  // empty impairment removes the shaping. The error says why the kernel refused.
  virtual void SetImpairment(const std::string& tap, const Impairment& imp, Done done) = 0;
  // Puts the host-side gateway of management segment `lab`/`segment` on the bridge: an internal
  // port named `port` (<= 15 bytes) on the segment's tag, whose kernel interface is then brought
  // up holding exactly `addresses` ("10.250.3.1/24", "fd6c:7600:0:3::1/64") as its global
  // addresses. Idempotent: plugging it again re-applies the addresses. On failure after the port
  // was added, the port stays (UnplugGateway removes it).
  virtual void PlugGateway(const std::string& lab, const std::string& segment,
                           const std::string& port, const std::vector<std::string>& addresses,
                           Done done) = 0;
  // Removes the gateway port (its kernel interface goes with it). OK if it is not there;
  // kFailedPrecondition if `port` is not that segment's gateway.
  virtual void UnplugGateway(const std::string& lab, const std::string& segment,
                             const std::string& port, Done done) = 0;
};

class NullPlumber : public NetworkPlumber {
 public:
  void Plug(const std::string&, const std::string&, const std::vector<PortPlan>&,
            Done done) override {
    done(Status::Ok());
  }
  void Unplug(const std::string&, const std::string&, Done done) override { done(Status::Ok()); }
  void SetLink(const std::string&, const std::string&, bool, Done done) override {
    done(Status::Ok());
  }
  void DeleteLinks(const std::string&, const std::vector<std::string>&, Done done) override {
    done(Status::Ok());
  }
  void Connect(const std::string&, const std::string&, const std::string&, const std::string&,
               Done done) override {
    done(Status::Ok());
  }
  std::vector<PlumbedPort> OwnedPorts() const override { return {}; }
  void RemovePorts(const std::vector<std::string>&, Done done) override { done(Status::Ok()); }
  void SetImpairment(const std::string&, const Impairment&, Done done) override {
    done(Status::Ok());
  }
  void PlugGateway(const std::string&, const std::string&, const std::string&,
                   const std::vector<std::string>&, Done done) override {
    done(Status::Ok());
  }
  void UnplugGateway(const std::string&, const std::string&, const std::string&,
                     Done done) override {
    done(Status::Ok());
  }
};

// A NetworkPlumber that forwards every verb to `inner` with its callback passed through
// `wrap(verb, done)` (as WrappedHypervisor does; LabEngine binds them to its Lifeline).
// Does not own `inner`, which must outlive it.
template <typename Wrap>
class WrappedPlumber final : public NetworkPlumber {
 public:
  WrappedPlumber(NetworkPlumber& inner, Wrap wrap) : inner_(inner), wrap_(std::move(wrap)) {}

  void Plug(const std::string& lab, const std::string& node, const std::vector<PortPlan>& ports,
            Done done) override {
    inner_.Plug(lab, node, ports, wrap_("plug", std::move(done)));
  }
  void Unplug(const std::string& lab, const std::string& node, Done done) override {
    inner_.Unplug(lab, node, wrap_("unplug", std::move(done)));
  }
  void SetLink(const std::string& lab, const std::string& link, bool up, Done done) override {
    inner_.SetLink(lab, link, up, wrap_("set_link", std::move(done)));
  }
  void DeleteLinks(const std::string& lab, const std::vector<std::string>& links,
                   Done done) override {
    inner_.DeleteLinks(lab, links, wrap_("delete_links", std::move(done)));
  }
  void Connect(const std::string& lab, const std::string& link, const std::string& tap_a,
               const std::string& tap_b, Done done) override {
    inner_.Connect(lab, link, tap_a, tap_b, wrap_("connect", std::move(done)));
  }
  std::vector<PlumbedPort> OwnedPorts() const override { return inner_.OwnedPorts(); }
  void RemovePorts(const std::vector<std::string>& ports, Done done) override {
    inner_.RemovePorts(ports, wrap_("remove_ports", std::move(done)));
  }
  void SetImpairment(const std::string& tap, const Impairment& imp, Done done) override {
    inner_.SetImpairment(tap, imp, wrap_("set_impairment", std::move(done)));
  }
  void PlugGateway(const std::string& lab, const std::string& segment, const std::string& port,
                   const std::vector<std::string>& addresses, Done done) override {
    inner_.PlugGateway(lab, segment, port, addresses, wrap_("plug_gateway", std::move(done)));
  }
  void UnplugGateway(const std::string& lab, const std::string& segment, const std::string& port,
                     Done done) override {
    inner_.UnplugGateway(lab, segment, port, wrap_("unplug_gateway", std::move(done)));
  }

 private:
  NetworkPlumber& inner_;
  Wrap wrap_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_NETWORK_PLUMBER_H_
