// SoakRun: one labvirtd on real libvirtd, QEMU and OVS, driven through cycles of a lab's life on
// fixture VMs, sampled after each (tests/support/soak_sample.h). tools/soak's driver
// (bench/soak.cc) runs hundreds of cycles; the integration test (tests/integration/soak_test.cc)
// runs a few. Both run this one cycle.
//
// Cycle n: lab.deploy of NODES linked iosv fixture nodes with wait (every node ready) → link
// set_state down and up, then link.delete and link.create of the same ends → node.restart of r1
// with wait (ACPI stop and start, disk kept) → when n is a multiple of restart_every, labvirtd
// stopped with SIGTERM and started again, which adopts the running lab (every node ready again) →
// lab.destroy → a sample. Each lab has a name of its own (PREFIX + "c" + n), so per-lab state
// that is never forgotten grows with the cycles.
//
// Blocking; not thread-safe. Needs -DLABVIRTD_PATH="…" (tests/support/meson.build: soak_dep).
#ifndef LABVIRT_TESTS_SUPPORT_SOAK_RUN_H_
#define LABVIRT_TESTS_SUPPORT_SOAK_RUN_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/fixture_suite.h"
#include "tests/support/soak_sample.h"

namespace labvirt::testing {

struct SoakOptions {
  std::string name;    // labs' prefix and the run's file names: [a-z0-9]+, short (lab names)
  int nodes = 2;       // 2 or more (chained r1—r2—…); 1: r1's two NICs linked to each other
  int memory_mb = 64;  // the iosv kind's least (the fixture needs 16)
  int restart_every = 0;  // restart labvirtd during every Nth cycle; 0: never
  std::string bridge = "arch-ovs";
  bool keep_files = false;  // leave the image root and state dir (with labvirtd's log) behind
};

class SoakRun {
 public:
  explicit SoakRun(SoakOptions options);
  // Destroys the current cycle's lab if one is left (a failed cycle), stops labvirtd and removes
  // the run's directories unless keep_files.
  ~SoakRun();
  SoakRun(const SoakRun&) = delete;
  SoakRun& operator=(const SoakRun&) = delete;

  // Builds the fixture image, starts labvirtd and takes the baseline sample. "" or why not.
  std::string Start();
  // Runs cycle `n` (1, 2, …) and samples after it. "" or which step failed and why (the lab may
  // then still exist: the destructor removes it).
  std::string Cycle(int n);

  // The destructor leaves the run's directories (labvirtd's log among them) behind.
  void KeepFiles() { options_.keep_files = true; }
  const std::vector<SoakSample>& samples() const { return samples_; }
  const SoakOptions& options() const { return options_; }
  const FixtureSuite& suite() const { return suite_; }
  // labvirtd's log so far.
  std::string DaemonLog() const { return daemon_ ? daemon_->Log() : ""; }

 private:
  std::string Lab(int n) const;
  std::string DeploySpec(const std::string& lab) const;
  std::vector<std::string> NodeNames() const;
  std::string ChangeLink(const std::string& lab);
  std::string RestartNode(const std::string& lab);
  std::string RestartDaemon(const std::string& lab);
  std::string Destroy(const std::string& lab);
  void Sample(int cycle, std::map<std::string, double> phases);

  SoakOptions options_;
  FixtureSuite suite_;
  std::chrono::steady_clock::time_point started_;
  std::vector<SoakSample> samples_;
  int lifetime_ = 0;
  std::string live_lab_;  // deployed and not yet destroyed
  std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SOAK_RUN_H_
