// ProviderRouter: one Hypervisor over the providers (libvirt for VMs, docker for containers), so
// the engine drives every node through one seam and never asks which provider runs it.
//
// Routing: Define goes by the definition (a container domain, <domain type='lxc'>, to docker;
// anything else to libvirt); every other verb by the domain's name — docker for a container it
// knows (defined or listed), libvirt otherwise. ListDomains and ListMacs merge both. A host
// without a docker provider (`docker` null) routes everything to libvirt, and a container
// definition fails with a message saying so.
//
// dockerd unreachable does not stop VMs: ListDomains then answers with libvirt's domains alone
// plus the containers the docker provider last knew, marked inactive (their nodes fail to start
// with dockerd's error instead of vanishing from their labs). Does not own the providers. Loop
// thread only.
#ifndef LABVIRT_ENGINE_LAB_PROVIDER_ROUTER_H_
#define LABVIRT_ENGINE_LAB_PROVIDER_ROUTER_H_

#include <memory>
#include <string>
#include <vector>

#include "providers/docker/docker_provider.h"
#include "providers/hypervisor.h"

namespace labvirt::engine {

using providers::DomainInfo;
using providers::HostCapabilities;
using providers::Hypervisor;

class ProviderRouter final : public Hypervisor {
 public:
  ProviderRouter(Hypervisor& libvirt, providers::docker::DockerProvider* docker);

  // libvirt's: VMs are what most labs run, and the engine's host probe needs it.
  bool connected() const override { return libvirt_.connected(); }
  void SetEventHandler(EventHandler handler) override;
  void SetConnectedHandler(std::function<void()> handler) override;
  void Define(std::string xml, Done done) override;
  void Start(std::string name, bool paused, Done done) override;
  void Resume(std::string name, Done done) override;
  void Shutdown(std::string name, Done done) override;
  void Destroy(std::string name, Done done) override;
  void Undefine(std::string name, Done done) override;
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override;
  void SetMetadata(std::string name, std::string metadata_xml, Done done) override;
  void AttachDevice(std::string name, std::string device_xml, Done done) override;
  void DetachDevice(std::string name, std::string device_xml, Done done) override;
  void ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) override;
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override;
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<HostCapabilities>)> done) override;

 private:
  Hypervisor& For(const std::string& name);

  Hypervisor& libvirt_;
  providers::docker::DockerProvider* docker_;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_PROVIDER_ROUTER_H_
