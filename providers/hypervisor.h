// Hypervisor: the seam between the engine and libvirt. Every verb is asynchronous: the blocking
// libvirt RPC runs on the worker pool and `done` runs later on the reactor thread. There is one
// production implementation (LibvirtHypervisor) and a fake for the engine's unit tests.
//
// Domain names are labvirt's (see node naming); a verb on a domain that does not exist fails with
// kNotFound. Callers never hold a libvirt handle.
#ifndef LABVIRT_PROVIDERS_HYPERVISOR_H_
#define LABVIRT_PROVIDERS_HYPERVISOR_H_

#include <functional>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::providers {

// A domain as listed for reconciliation.
struct DomainInfo {
  std::string name;
  bool active = false;  // running or paused
  bool paused = false;
  bool persistent = false;
  // labvirt's metadata element (its namespace declared on it), or "" when the domain is not ours.
  std::string metadata;
};

// What GetHostCapabilities returns.
struct HostCapabilities {
  std::string domain_capabilities_xml;
  std::string hypervisor_version;  // "7.2.0"; "" when libvirt does not say
};

// Lifecycle change of one domain, reported on the reactor thread.
enum class DomainEvent {
  kDefined,
  kUndefined,
  kStarted,
  kSuspended,
  kResumed,
  kStopped,   // detail tells why (shutdown, destroyed, crashed, failed…)
  kShutdown,  // the guest or host began a shutdown (a kStopped follows)
  kCrashed,
  kOther,
};

struct DomainEventInfo {
  std::string name;
  DomainEvent event = DomainEvent::kOther;
  // For kStopped: "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
  // "from_snapshot"; for kCrashed: "panicked"; otherwise libvirt's detail as a word.
  std::string detail;
};

class Hypervisor {
 public:
  using Done = std::function<void(Status)>;
  using EventHandler = std::function<void(const DomainEventInfo&)>;

  virtual ~Hypervisor() = default;

  // True while the hypervisor connection is up.
  virtual bool connected() const = 0;
  // Lifecycle events of every domain go to `handler` (loop thread). Replaces any earlier handler.
  virtual void SetEventHandler(EventHandler handler) = 0;
  // Called on the loop thread after every (re)connection: the engine resyncs from ListDomains.
  virtual void SetConnectedHandler(std::function<void()> handler) = 0;

  // Defines (or redefines) a persistent domain from `xml`.
  virtual void Define(std::string xml, Done done) = 0;
  // Starts a defined domain, paused if `paused`.
  virtual void Start(std::string name, bool paused, Done done) = 0;
  virtual void Resume(std::string name, Done done) = 0;
  // Asks the guest to shut down (ACPI power button). Returns once the request is delivered.
  virtual void Shutdown(std::string name, Done done) = 0;
  // Forces the domain off. Succeeds if it is already off.
  virtual void Destroy(std::string name, Done done) = 0;
  // Removes the persistent definition (and its NVRAM). Succeeds if it is already gone.
  virtual void Undefine(std::string name, Done done) = 0;
  // The domain's XML: live (with PTY paths, tap names) when `live` and it runs, else persistent.
  virtual void GetXml(std::string name, bool live,
                      std::function<void(Result<std::string>)> done) = 0;
  // Replaces labvirt's metadata element (live and persistent where applicable).
  virtual void SetMetadata(std::string name, std::string metadata_xml, Done done) = 0;
  // Adds or removes a device (a NIC) in the running domain and its persistent definition.
  virtual void AttachDevice(std::string name, std::string device_xml, Done done) = 0;
  virtual void DetachDevice(std::string name, std::string device_xml, Done done) = 0;
  // Every domain on the host with its state and labvirt metadata (one pass).
  virtual void ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) = 0;
  // libvirt's domain capabilities XML for `virttype` ("kvm" | "qemu") on x86_64, and the
  // hypervisor's version ("7.2.0"), for the host probe (providers/host_probe.h).
  virtual void GetHostCapabilities(std::string virttype,
                                   std::function<void(Result<HostCapabilities>)> done) = 0;
  // MAC addresses of every interface of every domain on the host (for collision checks).
  virtual void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) = 0;
};

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_HYPERVISOR_H_
