// The set-up shared by integration suites that run one labvirtd on one fixture image: the suite's
// directories, its image built from a transcript, and labvirtd started on them (boot budget 2;
// --accel tcg under LABVIRT_TEST_ACCEL=tcg, so the suite's nodes run under TCG on a KVM host).
//
// Header-only, for tests built with -DLABVIRTD_PATH="…", ctl_dep and fixture_domain_dep. Blocking;
// call from SetUpTestSuite.
#ifndef LABVIRT_TESTS_SUPPORT_FIXTURE_SUITE_H_
#define LABVIRT_TESTS_SUPPORT_FIXTURE_SUITE_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/support/fixture_domain.h"
#include "tests/support/suite_daemon.h"
#include "tests/support/suite_place.h"

namespace labvirt::testing {

// LABVIRT_TEST_ACCEL=tcg: labvirtd's nodes run under TCG.
inline bool NodesUnderTcg() {
  const char* accel = std::getenv("LABVIRT_TEST_ACCEL");
  return accel != nullptr && std::string(accel) == "tcg";
}

struct FixtureSuite {
  SuitePlace place;
  std::string image;       // file name under the place's image root
  std::string transcript;  // its text (tools/mkfixture's format)
};

// (Re)starts the suite's labvirtd into *daemon (always set, so tear-down stops it; the one there is
// stopped first). "" once healthy, else why not.
inline std::string StartSuiteDaemon(const FixtureSuite& s, std::unique_ptr<DaemonProcess>* daemon) {
  daemon->reset();
  std::string err;
  std::vector<std::string> more = {"--boot-budget", "2"};
  if (NodesUnderTcg()) more.insert(more.end(), {"--accel", "tcg"});
  *daemon = StartHealthyDaemon(s.place.DaemonOptions(more), s.place.socket,
                               std::chrono::seconds(60), &err);
  return err;
}

// Makes the directories and the image, then StartSuiteDaemon.
inline std::string StartFixtureSuite(const FixtureSuite& s,
                                     std::unique_ptr<DaemonProcess>* daemon) {
  s.place.Make();
  std::string transcript = s.place.state_dir + "/" + s.image + ".txt";
  std::ofstream(transcript) << s.transcript;
  std::string err = BuildFixtureImage(transcript, s.place.image_root + "/" + s.image,
                                      AcpiMode::kGraceful, Speed::kFast);
  if (!err.empty()) return "fixture image: " + err;
  return StartSuiteDaemon(s, daemon);
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_FIXTURE_SUITE_H_
