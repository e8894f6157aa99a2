// OVS tag changes: labvirt's OVSDB client beside ovs-vsctl, in the same run, against a private
// ovsdb-server started here (no ovs-vswitchd) holding 1000 ports created beforehand.
//
// One iteration is 1000 tag changes — 500 links, both ends of a link getting the same tag — made
//   labvirt:          through OvsSwitch::SetTags, one transaction on the reactor;
//   vsctl_batched:    by one ovs-vsctl process carrying all 1000 "set port" commands;
//   vsctl_separate:   by one ovs-vsctl process per change. 1000 processes take
//                     ~5 s on an idle host with few ports (far more with 1000 ports), so this
//                     runs 10 of them and reports 100x their time (the cost is linear per call).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ovs/ovs_replica.h"
#include "ovs/ovs_switch.h"
#include "ovs/ovsdb_client.h"
#include "reactor/reactor.h"
#include "tests/support/ovsdb_server.h"

namespace {

using labvirt::Status;
using namespace labvirt::ovs;
using Clock = std::chrono::steady_clock;

constexpr int kPorts = 1000;

std::string PortName(int i) { return "bp" + std::to_string(i); }

// The private ovsdb-server (tests/support) with 1000 ports created beforehand in one ovs-vsctl
// call.
class Server {
 public:
  Server() : db_(labvirt::testing::OvsdbServerOptions{.dir_prefix = "/tmp/labvirt-ovsbench"}) {
    if (!db_.created() || !db_.Start()) return;
    std::string add = Vsctl() + " add-br bb";
    for (int i = 0; i < kPorts; ++i) add += " -- add-port bb " + PortName(i);
    ok_ = std::system(add.c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string Vsctl() const { return db_.VsctlCommand(); }
  std::string remote() const { return db_.remote(); }

 private:
  labvirt::testing::OvsdbServer db_;
  bool ok_ = false;
};

Server& TheServer() {
  static Server server;
  return server;
}

// Tag for port i in round r: ports 2k and 2k+1 share a tag (one link), rounds alternate ranges
// so that every iteration really changes every tag.
int TagFor(int i, int64_t round) { return 2050 + (i / 2) + (round % 2 == 0 ? 0 : 1000); }

void BM_Labvirt(benchmark::State& state) {
  if (!TheServer().ok()) {
    state.SkipWithError("private ovsdb-server did not start");
    return;
  }
  auto reactor = std::move(labvirt::reactor::Reactor::Create().value());
  OvsdbClientOptions o;
  o.remote = TheServer().remote();
  OvsdbClient client(*reactor, o);
  OvsReplica replica(*reactor, client);
  OvsSwitchOptions so;
  so.bridge = "bb";
  OvsSwitch sw(*reactor, client, replica, so);
  client.Start();
  while (!replica.synced()) reactor->RunOnce(true);
  int64_t round = 0;
  for (auto _ : state) {
    std::vector<std::pair<std::string, int>> tags;
    tags.reserve(kPorts);
    for (int i = 0; i < kPorts; ++i) tags.emplace_back(PortName(i), TagFor(i, round));
    ++round;
    bool done = false;
    Status status;
    auto start = Clock::now();
    sw.SetTags(std::move(tags), [&](Status s) {
      done = true;
      status = s;
    });
    while (!done) reactor->RunOnce(true);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kPorts);
}
BENCHMARK(BM_Labvirt)->Name("ovs_tags/labvirt")->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_VsctlBatched(benchmark::State& state) {
  if (!TheServer().ok()) {
    state.SkipWithError("private ovsdb-server did not start");
    return;
  }
  int64_t round = 0;
  for (auto _ : state) {
    std::string cmd = TheServer().Vsctl();
    for (int i = 0; i < kPorts; ++i) {
      cmd += " -- set port " + PortName(i) + " tag=" + std::to_string(TagFor(i, round));
    }
    ++round;
    auto start = Clock::now();
    int rc = std::system(cmd.c_str());
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    if (rc != 0) {
      state.SkipWithError("ovs-vsctl failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kPorts);
}
BENCHMARK(BM_VsctlBatched)
    ->Name("ovs_tags/vsctl_batched")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

constexpr int kSeparateSample = 10;

void BM_VsctlSeparate(benchmark::State& state) {
  if (!TheServer().ok()) {
    state.SkipWithError("private ovsdb-server did not start");
    return;
  }
  int64_t round = 0;
  for (auto _ : state) {
    std::vector<std::string> cmds;
    for (int i = 0; i < kSeparateSample; ++i) {
      cmds.push_back(TheServer().Vsctl() + " set port " + PortName(i) +
                     " tag=" + std::to_string(TagFor(i, round)));
    }
    ++round;
    auto start = Clock::now();
    for (const std::string& c : cmds) {
      if (std::system(c.c_str()) != 0) {
        state.SkipWithError("ovs-vsctl failed");
        return;
      }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    state.SetIterationTime(seconds * (kPorts / kSeparateSample));  // scaled to 1000 calls
  }
  state.SetItemsProcessed(state.iterations() * kPorts);
}
BENCHMARK(BM_VsctlSeparate)
    ->Name("ovs_tags/vsctl_separate")
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
