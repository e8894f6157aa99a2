#include "engine/lab/provider_router.h"

#include "providers/container_xml.h"
#include "providers/domain_xml.h"

namespace labvirt::engine {

ProviderRouter::ProviderRouter(Hypervisor& libvirt, providers::docker::DockerProvider* docker)
    : libvirt_(libvirt), docker_(docker) {}

Hypervisor& ProviderRouter::For(const std::string& name) {
  if (docker_ && docker_->Knows(name)) return *docker_;
  return libvirt_;
}

void ProviderRouter::SetEventHandler(EventHandler handler) {
  if (docker_) docker_->SetEventHandler(handler);
  libvirt_.SetEventHandler(std::move(handler));
}

void ProviderRouter::SetConnectedHandler(std::function<void()> handler) {
  // Either one coming (back) up is a reason to reconcile: the engine rebuilds from both lists.
  if (docker_) docker_->SetConnectedHandler(handler);
  libvirt_.SetConnectedHandler(std::move(handler));
}

void ProviderRouter::Define(std::string xml, Done done) {
  if (!providers::IsContainerDomainXml(xml))
    return libvirt_.Define(std::move(xml), std::move(done));
  if (!docker_) return done(FailedPrecondition("this labvirtd runs without a docker provider"));
  docker_->Define(std::move(xml), std::move(done));
}

void ProviderRouter::Start(std::string name, bool paused, Done done) {
  For(name).Start(std::move(name), paused, std::move(done));
}
void ProviderRouter::Resume(std::string name, Done done) {
  For(name).Resume(std::move(name), std::move(done));
}
void ProviderRouter::Shutdown(std::string name, Done done) {
  For(name).Shutdown(std::move(name), std::move(done));
}
void ProviderRouter::Destroy(std::string name, Done done) {
  For(name).Destroy(std::move(name), std::move(done));
}
void ProviderRouter::Undefine(std::string name, Done done) {
  For(name).Undefine(std::move(name), std::move(done));
}
void ProviderRouter::GetXml(std::string name, bool live,
                            std::function<void(Result<std::string>)> done) {
  For(name).GetXml(std::move(name), live, std::move(done));
}
void ProviderRouter::SetMetadata(std::string name, std::string metadata_xml, Done done) {
  For(name).SetMetadata(std::move(name), std::move(metadata_xml), std::move(done));
}
void ProviderRouter::AttachDevice(std::string name, std::string device_xml, Done done) {
  For(name).AttachDevice(std::move(name), std::move(device_xml), std::move(done));
}
void ProviderRouter::DetachDevice(std::string name, std::string device_xml, Done done) {
  For(name).DetachDevice(std::move(name), std::move(device_xml), std::move(done));
}

void ProviderRouter::ListDomains(std::function<void(Result<std::vector<DomainInfo>>)> done) {
  libvirt_.ListDomains([this, done](Result<std::vector<DomainInfo>> vms) {
    if (!vms.ok() || !docker_) return done(std::move(vms));
    docker_->ListDomains([this, done, vms = std::move(vms).value()](
                             Result<std::vector<DomainInfo>> containers) mutable {
      if (containers.ok()) {
        for (auto& c : *containers) vms.push_back(std::move(c));
        return done(std::move(vms));
      }
      // dockerd down: its containers are known but not running, as far as anyone can tell.
      for (auto& c : docker_->KnownDomains()) vms.push_back(std::move(c));
      done(std::move(vms));
    });
  });
}

void ProviderRouter::ListMacs(std::function<void(Result<std::vector<std::string>>)> done) {
  libvirt_.ListMacs([this, done](Result<std::vector<std::string>> macs) {
    if (!macs.ok() || !docker_) return done(std::move(macs));
    docker_->ListMacs(
        [done, macs = std::move(macs).value()](Result<std::vector<std::string>> more) mutable {
          if (more.ok()) macs.insert(macs.end(), more->begin(), more->end());
          done(std::move(macs));
        });
  });
}

void ProviderRouter::GetHostCapabilities(std::string virttype,
                                         std::function<void(Result<HostCapabilities>)> done) {
  libvirt_.GetHostCapabilities(std::move(virttype), std::move(done));
}

}  // namespace labvirt::engine
