// What a soak run samples after each cycle: labvirtd's own resources (/proc/PID) and what it made
// on the host (OVS ports, libvirt domains, files in its state directory, helper processes), read
// the way an operator reads them, from outside the daemon. Shared by tools/soak's driver
// (bench/soak.cc) and the integration test (tests/integration/soak_test.cc).
//
// Blocking (ovs-vsctl, libvirt, /proc); for tests and tools only.
#ifndef LABVIRT_TESTS_SUPPORT_SOAK_SAMPLE_H_
#define LABVIRT_TESTS_SUPPORT_SOAK_SAMPLE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace labvirt::testing {

// One sample. A count that could not be read is -1.
struct SoakSample {
  int cycle = 0;     // 0: before the first cycle; n: after cycle n's lab.destroy
  int lifetime = 0;  // which labvirtd process (0-based): each labvirtd restart starts the next
  pid_t pid = 0;
  double at_s = 0;            // seconds since the run started
  int64_t fds = -1;           // SoakRun's samples include its one open client connection
  int64_t rss_kib = -1;       // VmRSS = RssAnon + RssFile + RssShmem
  int64_t rss_anon_kib = -1;  // RssAnon: heap, stacks, anonymous maps
  int64_t rss_file_kib = -1;  // RssFile: resident pages of the binary and libraries
  int64_t threads = -1;
  int64_t bridge_ports = -1;  // every port on the bridge (other users' included)
  int64_t lab_ports = -1;     // ports whose external_ids name one of the run's labs
  int64_t domains = -1;       // libvirt domains of the run's labs
  int64_t state_files = -1;   // regular files under the state directory, labvirtd's log aside
  int64_t helpers = -1;       // processes besides labvirtd naming the state dir (dnsmasq)
  std::map<std::string, double> phase_s = {};  // the cycle's steps and their seconds
};

// Where to look.
struct SoakTarget {
  pid_t pid = 0;           // labvirtd
  std::string bridge;      // its OVS bridge
  std::string lab_prefix;  // every lab of the run is named LAB_PREFIX + something
  std::string state_dir;   // its --state-dir
  std::string log_name;    // a file directly in state_dir not counted (labvirtd's log), or ""
};

// Reads every count of `target` into a sample (cycle, lifetime, at_s and phase_s left as they are).
SoakSample TakeSample(const SoakTarget& target);

// The value of a "Name:   123 kB" line of /proc/PID/status text (the number only), or -1.
int64_t ProcStatusValue(std::string_view status_text, std::string_view name);

// Regular files under `dir`, recursively, not following symlinks; `skip` (a name directly in
// `dir`) not counted. 0 for a missing directory.
int64_t CountFiles(const std::string& dir, const std::string& skip);

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SOAK_SAMPLE_H_
