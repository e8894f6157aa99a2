#include "tests/support/fake_hypervisor.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace labvirt::testing {

void FakeHypervisor::Define(std::string xml, Done done) {
  ++defines;
  max_defines_in_flight = std::max(max_defines_in_flight, ++defines_in_flight_);
  done = [this, done = std::move(done)](Status st) {
    --defines_in_flight_;
    done(std::move(st));
  };
  auto start = xml.find("<name>") + 6;
  std::string name = xml.substr(start, xml.find("</name>") - start);
  if (!fail_define.empty() && name.find(fail_define) != std::string::npos) {
    return Later(std::move(done), Internal("fake: define of " + name + " refused"));
  }
  defined.insert(name);
  xmls[name] = xml;
  // As libvirt does, the lifecycle event can come before the call's answer.
  if (on_defined) on_defined(name);
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::Start(std::string name, bool, Done done) {
  ++starts;
  if (domains_ == FakeDomains::kMemory) {
    return Later(std::move(done), start_check ? start_check(xmls[name]) : Status::Ok());
  }
  if (Running(name)) {  // as libvirt answers
    return Later(std::move(done),
                 FailedPrecondition("start " + name + ": domain is already running"));
  }
  if (hold_start) {
    held_starts_.emplace_back(std::move(name), std::move(done));
    return;
  }
  StartNow(name, std::move(done));
}

void FakeHypervisor::StartNow(const std::string& name, Done done) {
  if (fail_starts > 0) {
    --fail_starts;
    return Later(std::move(done), Internal("fake: start of " + name + " refused"));
  }
  ++domain_starts[name];
  int fd = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0 || ::grantpt(fd) != 0 || ::unlockpt(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Later(std::move(done), Internal("no pty"));
  }
  pty_paths_[name] = ::ptsname(fd);
  if (vanish_starts > 0) {
    --vanish_starts;
    ::close(fd);  // the slave's /dev/pts node goes with its master
    return Later(std::move(done), Status::Ok());
  }
  masters_[name] = UniqueFd(fd);
  run_ids_[name] = ++last_run_id_;
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::Resume(std::string name, Done done) {
  if (hold_resume) return held_resume.push_back(std::move(done));
  if (on_resumed && Running(name)) on_resumed(name, masters_[name].get());
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::Shutdown(std::string name, Done done) {
  if (StartHeld(name)) {
    return Later(std::move(done),
                 FailedPrecondition("shut down " + name + ": domain is not running"));
  }
  Later(std::move(done), Status::Ok());
  PowerOff(name, "shutdown");
}

void FakeHypervisor::Destroy(std::string name, Done done) {
  if (StartHeld(name)) return Later(std::move(done), Status::Ok());  // not running: nothing to do
  if (domains_ == FakeDomains::kPty) ++domain_destroys[name];
  Later(std::move(done), Status::Ok());
  PowerOff(name, "destroyed");
}

void FakeHypervisor::Undefine(std::string name, Done done) {
  if (!fail_undefine.empty() && name.find(fail_undefine) != std::string::npos) {
    return Later(std::move(done), Internal("cannot undefine " + name));
  }
  defined.erase(name);
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::GetXml(std::string name, bool live,
                            std::function<void(Result<std::string>)> done) {
  std::string xml = "<domain/>";
  if (domains_ == FakeDomains::kPty) {
    std::string id = live && Running(name) ? " id='" + std::to_string(run_ids_[name]) + "'" : "";
    xml = "<domain" + id + "><devices><serial type='pty'><source path='" + pty_paths_[name] +
          "'/></serial></devices></domain>";
  }
  reactor_.Post([done = std::move(done), xml] { done(xml); });
}

void FakeHypervisor::SetMetadata(std::string domain, std::string xml, Done done) {
  ++metadata_writes;
  int now = ++metadata_in_flight[domain];
  max_metadata_in_flight = std::max(max_metadata_in_flight, now);
  reactor_.Post([this, domain, xml, done = std::move(done)] {
    --metadata_in_flight[domain];
    metadata[domain] = xml;  // lands with the answer
    done(Status::Ok());
  });
}

void FakeHypervisor::AttachDevice(std::string, std::string xml, Done done) {
  attached.push_back(xml);
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::DetachDevice(std::string, std::string xml, Done done) {
  detached.push_back(xml);
  Later(std::move(done), Status::Ok());
}

void FakeHypervisor::ListDomains(
    std::function<void(Result<std::vector<providers::DomainInfo>>)> done) {
  std::vector<providers::DomainInfo> out = listed;
  for (const auto& d : defined) {
    if (!list_metadata) {
      out.push_back({d, false, false, true, ""});
      continue;
    }
    auto md = metadata.find(d);
    out.push_back({d, Running(d), false, true, md == metadata.end() ? "" : md->second});
  }
  reactor_.Post([done = std::move(done), out] { done(out); });
}

void FakeHypervisor::ListMacs(std::function<void(Result<std::vector<std::string>>)> done) {
  ++list_macs_calls;
  reactor_.Post([done = std::move(done), macs = foreign_macs] { done(macs); });
}

void FakeHypervisor::GetHostCapabilities(
    std::string, std::function<void(Result<providers::HostCapabilities>)> done) {
  reactor_.Post([done = std::move(done)] { done(providers::HostCapabilities{}); });
}

bool FakeHypervisor::Console(const std::string& domain, const std::string& text) {
  auto it = masters_.find(domain);
  if (it == masters_.end() || !it->second) return false;
  return ::write(it->second.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

bool FakeHypervisor::Running(const std::string& domain) const {
  auto it = masters_.find(domain);
  return it != masters_.end() && it->second;
}

void FakeHypervisor::ReleaseStopped() {
  hold_stopped = false;
  for (const auto& ev : held) {
    if (events_) events_(ev);
  }
  held.clear();
}

void FakeHypervisor::ReleaseStarts() {
  hold_start = false;
  auto starts = std::move(held_starts_);
  held_starts_.clear();
  for (auto& [name, done] : starts) StartNow(name, std::move(done));
}

bool FakeHypervisor::StartHeld(const std::string& name) const {
  return std::any_of(held_starts_.begin(), held_starts_.end(),
                     [&](const auto& s) { return s.first == name; });
}

void FakeHypervisor::Later(Done done, Status status) {
  reactor_.Post([done = std::move(done), status] { done(status); });
}

void FakeHypervisor::PowerOff(const std::string& name, const std::string& detail) {
  if (domains_ == FakeDomains::kMemory || !Running(name)) return;
  if (on_power_off) on_power_off(name);
  masters_[name].Reset();
  // The event comes a pass after the call's answer.
  reactor_.Post([this, name, detail] {
    reactor_.Post([this, name, detail] {
      providers::DomainEventInfo ev{name, providers::DomainEvent::kStopped, detail};
      if (hold_stopped) return held.push_back(ev);
      if (events_) events_(ev);
    });
  });
}

}  // namespace labvirt::testing
