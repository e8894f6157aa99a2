// A short soak (issue 19) through the built labvirtd on real libvirtd, QEMU and OVS: three cycles
// of deploy → link down/up, delete/create → node restart → destroy on two linked fixture nodes,
// labvirtd restarted (SIGTERM, adoption) in the second. The cycle is tools/soak's
// (tests/support/soak_run.h). Once each lab is destroyed nothing of it is left, and labvirtd's
// fds, the bridge's ports, domains, state files and helper processes are where they were after
// the first cycle — across the restart too. tools/soak runs the same for hundreds of cycles.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/prereq.h"
#include "tests/support/soak_run.h"
#include "tests/support/soak_summary.h"

namespace labvirt {
namespace {

using testing::SoakRun;

TEST(SoakTest, CyclesWithALabvirtdRestartLeaveNothingAndNoDrift) {
  SoakRun run({.name = "st" + std::to_string(::getpid()), .nodes = 2, .restart_every = 2});
  std::string started = run.Start();
  LABVIRT_REQUIRE(started.empty(),
                  "labvirtd healthy on real libvirtd with a fixture image: " + started);
  for (int n = 1; n <= 3; ++n) {
    std::string failed = run.Cycle(n);
    if (!failed.empty()) run.KeepFiles();
    ASSERT_EQ(failed, "") << "labvirtd's log kept in " << run.suite().place.state_dir;
  }

  const auto& samples = run.samples();
  ASSERT_EQ(samples.size(), 4u) << "the baseline and one sample a cycle";
  for (const auto& s : samples) {
    EXPECT_EQ(s.domains, 0) << "cycle " << s.cycle << ": a domain of a destroyed lab";
    EXPECT_EQ(s.lab_ports, 0) << "cycle " << s.cycle << ": an OVS port of a destroyed lab";
    EXPECT_EQ(s.helpers, 0) << "cycle " << s.cycle << ": a dnsmasq of a destroyed lab";
  }
  testing::SoakSummary summary = testing::Summarize(samples, 1);
  ASSERT_EQ(summary.lifetimes.size(), 2u) << "labvirtd restarted once";
  EXPECT_NE(samples[1].pid, samples[3].pid);
  for (const auto& d : summary.drifts) {
    if (!d.judged) continue;
    EXPECT_GE(d.first, 0) << d.metric << " unreadable";
    EXPECT_EQ(d.drift(), 0) << d.metric << ": " << d.first << " after cycle 1, " << d.last
                            << " after cycle 3";
  }
  EXPECT_FALSE(summary.drifted);
  std::fprintf(stderr, "%s", testing::SoakSummaryText(summary).c_str());  // the figures, always
  if (HasFailure()) {
    run.KeepFiles();
    std::fprintf(stderr, "labvirtd's log kept in %s\n", run.suite().place.state_dir.c_str());
  }
}

}  // namespace
}  // namespace labvirt
