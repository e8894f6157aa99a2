// Where an integration suite that runs its own labvirtd keeps its files on the host: an image root
// under libvirt's image directory (where the host's libvirt lets QEMU open the overlays), a state
// dir beside it and a control socket in /tmp, each named after the suite and this test process's
// pid, so that suites running at once (meson runs several) and a crashed run's leftovers never
// meet. One place per suite, made in SetUpTestSuite and removed in TearDownTestSuite.
//
// Header-only; gtest (Remove looks at the failed test count). Needs -DLABVIRTD_PATH (see
// daemon_process.h) for DaemonOptions' users.
#ifndef LABVIRT_TESTS_SUPPORT_SUITE_PLACE_H_
#define LABVIRT_TESTS_SUPPORT_SUITE_PLACE_H_

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"

namespace labvirt::testing {

struct SuitePlace {
  // `tag` names the suite in every path: /var/lib/libvirt/images/lvtest-TAG-PID[-state],
  // /tmp/lvtest-TAG-PID.sock.
  explicit SuitePlace(const std::string& tag)
      : SuitePlace(Stem{}, "lvtest-" + tag + "-" + std::to_string(::getpid())) {}
  // A place named `stem` rather than after a suite and this process (the soak runs, lvsoak-NAME,
  // which a later process may look at).
  static SuitePlace Named(const std::string& stem) { return SuitePlace(Stem{}, stem); }

  // Creates the image root and the state dir.
  void Make() const {
    std::filesystem::create_directories(image_root);
    std::filesystem::create_directories(state_dir);
  }

  // labvirtd's log: DaemonOptions sends its stderr here.
  std::string log() const { return state_dir + "/labvirtd.log"; }

  // Options for a labvirtd of this place: its socket, image root and state dir, then `more`.
  DaemonProcess::Options DaemonOptions(const std::vector<std::string>& more = {}) const {
    DaemonProcess::Options options{
        .args = {"--socket", socket, "--image-root", image_root, "--state-dir", state_dir},
        .log_path = log()};
    options.args.insert(options.args.end(), more.begin(), more.end());
    return options;
  }

  // Removes the image root and the state dir, whatever they hold. When a test of the run failed,
  // labvirtd's log is first copied to /tmp/STEM.log and its path printed, so that the
  // state dir can go.
  void Remove() const {
    std::error_code ec;
    if (::testing::UnitTest::GetInstance()->failed_test_count() > 0 &&
        std::filesystem::exists(log(), ec)) {
      const std::string kept = "/tmp/" + stem + ".log";
      std::filesystem::copy_file(log(), kept, std::filesystem::copy_options::overwrite_existing,
                                 ec);
      std::fprintf(stderr, "labvirtd's log kept in %s\n", kept.c_str());
    }
    std::filesystem::remove_all(image_root, ec);
    std::filesystem::remove_all(state_dir, ec);
  }

  std::string stem;        // lvtest-TAG-PID
  std::string pid;         // this test process's, for names of the suite's own (labs, ports)
  std::string image_root;  // /var/lib/libvirt/images/STEM
  std::string state_dir;   // IMAGE_ROOT-state
  std::string socket;      // /tmp/STEM.sock

 private:
  struct Stem {};
  SuitePlace(Stem, const std::string& stem)
      : stem(stem),
        pid(std::to_string(::getpid())),
        image_root("/var/lib/libvirt/images/" + stem),
        state_dir(image_root + "-state"),
        socket("/tmp/" + stem + ".sock") {}
};

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_SUITE_PLACE_H_
