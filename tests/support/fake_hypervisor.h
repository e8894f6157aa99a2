// FakeHypervisor: the one in-process providers::Hypervisor of the unit tests and benchmarks, so
// the real LabEngine runs without libvirtd. Every verb answers on a later loop pass (Post), as the
// libvirt one does from its worker pool; a test can hold some answers back and release them.
//
// Two ways to "run" a domain:
//   kMemory (default): a domain is a name in `defined` with its XML; Start and Destroy change
//     nothing but counters, and no lifecycle event is sent. Start's outcome can be decided by
//     `start_check` (a host that refuses some CPUs).
//   kPty: Start opens a fresh PTY pair whose slave the live XML names as the serial console (the
//     test writes the guest's console into the master with Console()) and gives the run a new
//     id, as libvirt does (the live XML's id='N'); Start of a running domain
//     is refused as libvirt refuses it; Shutdown and Destroy close the pair and report kStopped
//     two passes after their answer, the order libvirt may use.
//
// Does not own the reactor, which must outlive it. Loop thread only. Tests and benchmarks only.
#ifndef LABVIRT_TESTS_SUPPORT_FAKE_HYPERVISOR_H_
#define LABVIRT_TESTS_SUPPORT_FAKE_HYPERVISOR_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "providers/hypervisor.h"
#include "reactor/base/unique_fd.h"
#include "reactor/reactor.h"

namespace labvirt::testing {

enum class FakeDomains { kMemory, kPty };

class FakeHypervisor final : public providers::Hypervisor {
 public:
  explicit FakeHypervisor(reactor::Reactor& reactor, FakeDomains domains = FakeDomains::kMemory)
      : reactor_(reactor), domains_(domains) {}

  bool connected() const override { return true; }
  void SetEventHandler(EventHandler handler) override { events_ = std::move(handler); }
  void SetConnectedHandler(std::function<void()>) override {}
  void Define(std::string xml, Done done) override;
  void Start(std::string name, bool paused, Done done) override;
  void Resume(std::string name, Done done) override;
  void Shutdown(std::string name, Done done) override;
  void Destroy(std::string name, Done done) override;
  void Undefine(std::string name, Done done) override;
  void GetXml(std::string name, bool live, std::function<void(Result<std::string>)> done) override;
  void SetMetadata(std::string domain, std::string xml, Done done) override;
  void AttachDevice(std::string domain, std::string xml, Done done) override;
  void DetachDevice(std::string domain, std::string xml, Done done) override;
  void ListDomains(std::function<void(Result<std::vector<providers::DomainInfo>>)> done) override;
  void ListMacs(std::function<void(Result<std::vector<std::string>>)> done) override;
  void GetHostCapabilities(std::string virttype,
                           std::function<void(Result<providers::HostCapabilities>)> done) override;

  // kPty: writes `text` as the running guest's console output; false if it is not running.
  bool Console(const std::string& domain, const std::string& text);
  // kPty: true while the domain's PTY pair is open (started, not yet shut down or destroyed).
  bool Running(const std::string& domain) const;
  // Delivers the stopped events held back while `hold_stopped` was set.
  void ReleaseStopped();
  // kPty: completes the Starts held back while `hold_start` was set (each domain runs from now).
  void ReleaseStarts();

  // What the engine did.
  std::set<std::string> defined;
  std::map<std::string, std::string> xmls;  // domain -> its last defined XML
  int starts = 0;                           // every Start, refused or not
  int defines = 0;                          // every Define, refused or not
  int max_defines_in_flight = 0;  // the most Defines asked for and not yet answered at once
  std::map<std::string, int> domain_starts, domain_destroys;  // kPty: per domain
  std::vector<std::string> attached, detached;                // device XMLs
  int metadata_writes = 0;
  std::map<std::string, int> metadata_in_flight;
  int max_metadata_in_flight = 0;
  std::map<std::string, std::string> metadata;  // domain -> the last metadata that landed
  int list_macs_calls = 0;

  // How it answers.
  // Decides each Start from the domain's XML (a host that refuses some CPUs); unset: all start.
  std::function<Status(const std::string& xml)> start_check;
  std::vector<providers::DomainInfo> listed;  // more domains ListDomains reports (with metadata)
  // ListDomains reports each defined domain with the last metadata that landed and whether it
  // runs, as libvirt does for a restarted labvirtd (off: bare names, never running).
  bool list_metadata = false;
  std::function<void(const std::string&)> on_defined;  // the "defined" lifecycle event
  std::string fail_undefine;              // Undefine fails for domains whose name contains this
  std::string fail_define;                // Define fails for domains whose name contains this
  std::vector<std::string> foreign_macs;  // what ListMacs reports
  bool hold_resume = false;               // keep Resume answers in held_resume (the VM runs)
  std::vector<Done> held_resume;
  // kPty: this many next Starts answer OK with a QEMU already gone (its PTY closed), as when
  // libvirt shoots a retried start after answering it.
  int vanish_starts = 0;
  int fail_starts = 0;        // kPty: this many next Starts are refused (no VM)
  bool hold_stopped = false;  // keep stopped events until ReleaseStopped()
  // kPty: keep Starts in flight until ReleaseStarts() (a start still queued for a worker): the
  // domain is not running meanwhile, so Shutdown is refused, Destroy does nothing and answers OK
  // and ListDomains reports it off, as the libvirt provider answers for an inactive domain; an
  // Undefine meanwhile leaves the VM the start then makes running, as libvirt's transient domain.
  bool hold_start = false;
  std::vector<providers::DomainEventInfo> held;
  // kPty: called when Resume lets a running domain's guest run, with its PTY master, so a
  // simulated device can print its console (bench/sim_bench.cc). Not called for held resumes.
  // The master is borrowed until on_power_off(domain) returns, which is called before the fake
  // closes it (Shutdown, Destroy); the fake's destructor closes the rest without a call.
  std::function<void(const std::string& domain, int master)> on_resumed;
  std::function<void(const std::string& domain)> on_power_off;

 private:
  void Later(Done done, Status status);
  int defines_in_flight_ = 0;
  // kPty: the start itself (a fresh PTY pair and run id), answered on a later pass.
  void StartNow(const std::string& name, Done done);
  // kPty: true while `name`'s start is held (the domain is not running yet).
  bool StartHeld(const std::string& name) const;
  // kPty: closes the domain's PTY and reports kStopped a pass after the call's answer.
  void PowerOff(const std::string& name, const std::string& detail);

  reactor::Reactor& reactor_;
  const FakeDomains domains_;
  EventHandler events_;
  std::vector<std::pair<std::string, Done>> held_starts_;
  std::map<std::string, UniqueFd> masters_;  // kPty: running domains' PTY masters (QEMU's side)
  std::map<std::string, std::string> pty_paths_;
  // kPty: libvirt's id of each domain's current run (a live XML's id='N'), new at every start.
  std::map<std::string, int> run_ids_;
  int last_run_id_ = 0;
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_FAKE_HYPERVISOR_H_
