// The whole engine through the real labvirtd binary and its socket, on real libvirtd and QEMU with
// fixture VMs: deploy with events, console byte-exact both ways, bad deploys that leave nothing,
// stop/start keeping the disk, labvirtd killed and restarted (reconciled), destroy leaving nothing.
#include <libvirt/libvirt.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/lab_test_base.h"
#include "tests/support/daemon_process.h"
#include "tests/support/deadline.h"
#include "tests/support/fixture_domain.h"
#include "tests/support/host_view.h"
#include "tests/support/prereq.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace lab_test;  // the lab, its labvirtd, and the fixture (lab_test_base.h)

TEST_F(LabTest, BadDeploysAreRefusedAndLeaveNothing) {
  struct Case {
    std::string params, field;
  };
  const std::vector<Case> cases = {
      {R"({"name":"bad lab","nodes":[]})", "name"},
      {R"({"name":"x","nodes":[{"name":"r;1","kind":"iosv","image":"iosv.qcow2"}]})",
       "nodes[0].name"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"../../../etc/passwd"}]})",
       "nodes[0].image"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"missing.qcow2"}]})",
       "nodes[0].image"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":1}]})",
       "nodes[0].memory_mb"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2"},{"name":"r1","kind":"iosv","image":"iosv.qcow2"}]})",
       "nodes[1].name"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2"}],"links":[{"endpoints":["r1:eth1","r1:eth1"]}]})",
       "links[0].endpoints[1]"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"cat9kv","image":"iosv.qcow2"}]})",
       "nodes[0].kind"},
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2","bogus":1}]})",
       "nodes[0].bogus"},
      // 1 TiB of RAM: more than this host's MemTotal (read from /proc/meminfo) minus the reserve.
      {R"({"name":"x","nodes":[{"name":"r1","kind":"iosv","image":"iosv.qcow2","memory_mb":1048576}]})",
       "nodes"},
  };
  simdjson::dom::parser parser;
  for (const auto& c : cases) {
    std::string resp = Call("lab.deploy", c.params);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(resp).get(doc), simdjson::SUCCESS) << resp;
    simdjson::dom::element err;
    ASSERT_EQ(doc["error"].get(err), simdjson::SUCCESS) << c.params << " -> " << resp;
    if (!c.field.empty()) {
      std::string_view field;
      ASSERT_EQ(err["data"]["field"].get(field), simdjson::SUCCESS) << resp;
      EXPECT_EQ(field, c.field) << resp;
    }
  }
  std::string labs = Call("lab.list", "{}");
  EXPECT_EQ(labs.find("\"name\":\"x\""), std::string::npos) << "no partial lab: " << labs;
}

TEST_F(LabTest, DeployReportsEventsAndEveryNodeBecomesReady) {
  auto sub = testing::ConnectBounded(kPlace.socket);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sub->Call("events.subscribe", R"({"labs":[")" + kLab + R"("]})").ok());
  lab_failure_ = "lab.deploy did not answer";
  std::string resp = Call("lab.deploy", LabJson());
  bool answered = resp.rfind("call failed:", 0) != 0 && !IsError(resp);
  lab_failure_ = answered ? testing::FailedNodes(resp) : resp;
  ASSERT_EQ(lab_failure_, "") << "deploy: " << resp;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(resp);
  for (auto n : doc["result"]["nodes"].get_array()) {
    EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
  }
  // The subscriber saw each node go queued -> starting -> booting -> ready, in that order.
  // The events were sent before the answer: they are all buffered by now.
  std::map<std::string, std::vector<std::string>> states;
  std::string waited = testing::WaitNodeStates(*sub, {"r1", "r2"}, "ready",
                                               testing::DeadlineClock::now() + 10s, &states);
  ASSERT_EQ(waited, "");
  for (const char* n : {"r1", "r2"}) {
    ASSERT_GE(states[n].size(), 4u) << n;
    std::vector<std::string> want = {"queued", "starting", "booting", "ready"};
    EXPECT_EQ(std::vector<std::string>(states[n].end() - 4, states[n].end()), want) << n;
  }
  EXPECT_EQ(DomainsOfLab(kLab), 2);
  // Every NIC is on the bridge; the linked pair (data NIC 0 of both nodes) shares one tag and
  // every other NIC has a tag of its own.
  std::vector<std::string> ports = PortsOfLab(kLab);
  ASSERT_EQ(ports.size(), 8u) << "2 nodes x 4 NICs";
  std::map<std::string, int> tags;
  for (const auto& p : ports) tags[p.substr(p.find(',') + 1)]++;
  EXPECT_EQ(tags.size(), 7u) << "one shared link tag + 6 isolated tags";
  int shared = 0;
  for (const auto& [tag, count] : tags) shared += count == 2;
  EXPECT_EQ(shared, 1);
}

TEST_F(LabTest, ConsoleAttachIsByteExactBothWays) {
  std::string expected;
  ASSERT_EQ(testing::ExpectedConsole(testing::ConsoleTranscript("iosv"), &expected), "");
  auto c = testing::ConnectBounded(kPlace.socket, 20s);
  ASSERT_TRUE(c.ok());
  auto reply = c->Call("console.attach", R"({"lab":")" + kLab + R"(","node":"r1","mode":"rw"})");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->find("\"error\""), std::string::npos) << *reply;
  std::string got = c->TakeBuffered();
  auto read_until = [&](const std::string& needle) {
    char buf[65536];
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::recv(c->fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        got.append(buf, static_cast<size_t>(n));
      else
        std::this_thread::sleep_for(10ms);
    }
    return got.find(needle) != std::string::npos;
  };
  // Late joiner: the scrollback holds the whole boot, from its first byte.
  ASSERT_TRUE(read_until(expected.substr(expected.size() - 8)));
  EXPECT_TRUE(got.substr(0, expected.size()) == expected) << "scrollback differs from the boot";
  got.clear();
  std::string input = "enable\r";
  ASSERT_EQ(::send(c->fd(), input.data(), input.size(), MSG_NOSIGNAL), 7);
  EXPECT_TRUE(read_until("% No password set")) << got;
  EXPECT_NE(got.find("enable"), std::string::npos) << "input echoed through the PTY: " << got;
  // A second read-write attach is refused while the lease is held.
  std::string second = Call("console.attach", R"({"lab":")" + kLab + R"(","node":"r1"})");
  EXPECT_NE(second.find("\"error\""), std::string::npos) << second;
}

TEST_F(LabTest, StopThenStartKeepsTheOverlay) {
  std::string stop = Call("node.stop", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  EXPECT_NE(stop.find("\"state\":\"stopped\""), std::string::npos) << stop;
  std::string overlay = kPlace.state_dir + "/overlays/" + kLab + "/r2.qcow2";
  ASSERT_TRUE(fs::exists(overlay));
  auto inode = fs::last_write_time(overlay);
  std::string start = Call("node.start", R"({"lab":")" + kLab + R"(","node":"r2","wait":true})");
  EXPECT_NE(start.find("\"state\":\"ready\""), std::string::npos) << start;
  EXPECT_TRUE(fs::exists(overlay));
  EXPECT_LE(inode, fs::last_write_time(overlay));
  std::string tail = Call("console.tail", R"({"lab":")" + kLab + R"(","node":"r2","bytes":4096})");
  EXPECT_NE(tail.find("login:"), std::string::npos) << "virtlogd's log has the console: " << tail;
}

TEST_F(LabTest, KilledDaemonRestartsAndReconcilesTheLab) {
  g_daemon->Kill();
  g_daemon->Start();
  ASSERT_TRUE(WaitHealthy());
  std::string lab;
  auto all_ready = [](const std::string& json) {
    simdjson::dom::parser p;
    simdjson::dom::element d;
    simdjson::dom::array nodes;
    if (p.parse(json).get(d) || d["result"]["nodes"].get_array().get(nodes)) return false;
    size_t ready = 0;
    for (auto n : nodes) ready += std::string_view(n["state"].get_string()) == "ready";
    return ready == 2;  // the node's own state, not its readiness record's
  };
  // Both nodes adopted as ready; a failed one ends the wait at once.
  lab = testing::PollUntil(kPlace.socket, "lab.get", R"({"lab":")" + kLab + R"("})", all_ready,
                           testing::DeadlineClock::now() + 30s);
  ASSERT_EQ(testing::FailedNodes(lab), "") << lab;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(lab);
  ASSERT_EQ(doc["result"]["nodes"].get_array().size(), 2u) << lab;
  for (auto n : doc["result"]["nodes"].get_array()) {
    EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
    EXPECT_TRUE(n["console"]["attached"].get_bool().value()) << simdjson::minify(n);
    EXPECT_EQ(n["memory_mb"].get_int64().value(), 64) << "the node's override, from its metadata";
  }
  EXPECT_EQ(doc["result"]["links"].get_array().size(), 1u);
  EXPECT_EQ(DomainsOfLab(kLab), 2) << "nothing lost or duplicated";
}

TEST_F(LabTest, LinksChangeLiveWithoutRestartingTheVms) {
  const std::string lab = R"("lab":")" + kLab + R"(")";
  int id1 = DomainId(kLab, "r1"), id2 = DomainId(kLab, "r2");
  ASSERT_GT(id1, 0);
  ASSERT_GT(id2, 0);
  auto r1 = DataTaps("r1"), r2 = DataTaps("r2");
  ASSERT_EQ(r1.size(), 4u);
  ASSERT_EQ(r2.size(), 4u);
  const std::string a0 = r1.begin()->second, b0 = r2.begin()->second;  // linked at deploy
  std::string link = "r1:" + r1.begin()->first + "--r2:" + r2.begin()->first;
  EXPECT_EQ(TagsByTap()[a0], TagsByTap()[b0]);

  // Carrier down: each end on a tag of its own; up again: shared.
  std::string down =
      Call("link.set_state", "{" + lab + R"(,"link":")" + link + R"(","state":"down"})");
  ASSERT_FALSE(IsError(down)) << down;
  EXPECT_NE(TagsByTap()[a0], TagsByTap()[b0]);
  std::string up = Call("link.set_state", "{" + lab + R"(,"link":")" + link + R"(","state":"up"})");
  ASSERT_FALSE(IsError(up)) << up;
  EXPECT_EQ(TagsByTap()[a0], TagsByTap()[b0]);

  // Delete: isolated; every port has a tag of its own.
  std::string del = Call("link.delete", "{" + lab + R"(,"link":")" + link + R"("})");
  ASSERT_FALSE(IsError(del)) << del;
  std::set<std::string> distinct;
  for (const auto& [tap, tag] : TagsByTap()) distinct.insert(tag);
  EXPECT_EQ(distinct.size(), 8u);
  EXPECT_NE(Call("lab.get", "{" + lab + "}").find(R"("links":[])"), std::string::npos);

  // Create a link on other interfaces, named the controller's way (eth2 = data NIC 1).
  std::string made = Call("link.create", "{" + lab + R"(,"endpoints":["r1:eth2","r2:eth3"]})");
  ASSERT_FALSE(IsError(made)) << made;
  auto it1 = std::next(r1.begin()), it2 = std::next(r2.begin(), 2);
  EXPECT_EQ(TagsByTap()[it1->second], TagsByTap()[it2->second]) << made;
  EXPECT_NE(TagsByTap()[a0], TagsByTap()[it1->second]);

  // Refused, each naming what was wrong; nothing changes.
  for (const auto& [params, field] : std::vector<std::pair<std::string, std::string>>{
           {R"("endpoints":["r1:eth2","r2:eth4"])", "\"field\":\"a\""},    // already linked
           {R"("endpoints":["r1:eth8","r2:eth4"])", "node.nic.add"},       // beyond its NICs
           {R"("endpoints":["r1:eth4","nope:eth1"])", "\"field\":\"b\""},  // unknown node
           {R"("endpoints":["r1:eth4"])", "\"field\":\"endpoints\""},
           {R"("endpoints":["r1eth4","r2:eth4"])", "NODE:INTERFACE"}}) {
    std::string resp = Call("link.create", "{" + lab + "," + params + "}");
    EXPECT_TRUE(IsError(resp)) << params;
    EXPECT_NE(resp.find(field), std::string::npos) << params << " -> " << resp;
  }
  EXPECT_TRUE(IsError(Call("link.delete", "{" + lab + R"(,"link":"no-such-link"})")));
  EXPECT_TRUE(
      IsError(Call("link.set_state", "{" + lab + R"(,"link":")" + link + R"(","state":"up"})")))
      << "deleted";
  EXPECT_TRUE(IsError(Call("link.set_state", "{" + lab + R"(,"link":"x","state":"sideways"})")));
  EXPECT_EQ(DomainId(kLab, "r1"), id1) << "no VM was restarted";
  EXPECT_EQ(DomainId(kLab, "r2"), id2) << "no VM was restarted";
}

TEST_F(LabTest, NicHotPlugAddsAndRemovesALiveNic) {
  const std::string node = R"("lab":")" + kLab + R"(","node":"r1")";
  int id = DomainId(kLab, "r1");
  size_t ports = PortsOfLab(kLab).size();
  std::string added = Call("node.nic.add", "{" + node + "}");
  ASSERT_FALSE(IsError(added)) << added;
  auto taps = DataTaps("r1");
  ASSERT_EQ(taps.size(), 5u) << added;
  EXPECT_EQ(PortsOfLab(kLab).size(), ports + 1) << "the new NIC is on the bridge";
  std::set<std::string> distinct;
  for (const auto& [tap, tag] : TagsByTap()) distinct.insert(tag);
  EXPECT_EQ(distinct.size(), ports) << "on a tag of its own (one link shares a tag)";
  // In the running VM and in its persistent definition.
  std::string cmd = "virsh -q domiflist $(virsh -q list --all --name | grep '^lv-" + kLab +
                    "-r1-') --inactive 2>/dev/null | wc -l";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[32] = {0};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  ::pclose(p);
  EXPECT_EQ(std::atoi(buf), 5) << "persistent definition has 5 NICs";
  EXPECT_EQ(DomainId(kLab, "r1"), id) << "added live, no restart";

  std::string removed = Call("node.nic.remove", "{" + node + "}");
  ASSERT_FALSE(IsError(removed)) << removed;
  EXPECT_EQ(DataTaps("r1").size(), 4u);
  EXPECT_EQ(PortsOfLab(kLab).size(), ports) << "its port is gone";
  if (removed.find("\"pending_in_guest\":true") != std::string::npos) {
    // The fixture guest, like many network OSes, never releases a PCI device: the NIC leaves the
    // VM at its next restart, and until then its slot cannot be reused.
    std::string early = Call("node.nic.add", "{" + node + "}");
    EXPECT_NE(early.find("restart the node first"), std::string::npos) << early;
    std::string restarted = Call("node.restart", "{" + node + R"(,"wait":true})");
    EXPECT_NE(restarted.find("\"state\":\"ready\""), std::string::npos) << restarted;
    ASSERT_FALSE(IsError(Call("node.nic.add", "{" + node + "}")));
    ASSERT_FALSE(IsError(Call("node.nic.remove", "{" + node + "}")));
  }
  // The last NIC cannot be removed while it is in a link.
  std::string link =
      Call("link.create", R"({"lab":")" + kLab + R"(","endpoints":["r1:eth4","r2:eth4"]})");
  ASSERT_FALSE(IsError(link)) << link;
  std::string refused = Call("node.nic.remove", "{" + node + "}");
  EXPECT_NE(refused.find("delete the link first"), std::string::npos) << refused;
  simdjson::dom::parser parser;
  std::string link_id(parser.parse(link)["result"]["id"].get_string().value());
  ASSERT_FALSE(
      IsError(Call("link.delete", R"({"lab":")" + kLab + R"(","link":")" + link_id + R"("})")));
  EXPECT_TRUE(IsError(Call("node.nic.add", R"({"lab":")" + kLab + R"(","node":"ghost"})")));
}

TEST_F(LabTest, RestartKeepsTheDiskAndWipeMakesANewOne) {
  const std::string node = R"("lab":")" + kLab + R"(","node":"r2")";
  std::string overlay = kPlace.state_dir + "/overlays/" + kLab + "/r2.qcow2";
  int id = DomainId(kLab, "r2");
  auto ino = [&] {
    struct stat st {};
    return ::stat(overlay.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  auto ctime_ns = [&] {
    struct stat st {};
    return ::stat(overlay.c_str(), &st) == 0 ? st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec
                                             : 0LL;
  };
  ino_t before = ino();
  ASSERT_NE(before, 0u);
  std::string restarted = Call("node.restart", "{" + node + R"(,"wait":true})");
  EXPECT_NE(restarted.find("\"state\":\"ready\""), std::string::npos) << restarted;
  EXPECT_NE(DomainId(kLab, "r2"), id) << "a new QEMU process";
  EXPECT_EQ(ino(), before) << "the same disk";

  std::string refused = Call("node.wipe", "{" + node + "}");
  EXPECT_NE(refused.find("stop it before wiping"), std::string::npos) << refused;
  ASSERT_FALSE(IsError(Call("node.stop", "{" + node + R"(,"wait":true})")));
  long long stopped = ctime_ns();
  std::this_thread::sleep_for(20ms);  // a new file's ctime differs from the old one's
  std::string wiped = Call("node.wipe", "{" + node + "}");
  ASSERT_FALSE(IsError(wiped)) << wiped;
  EXPECT_NE(ctime_ns(), stopped) << "a new overlay file";
  EXPECT_LT(fs::file_size(overlay), 1u << 20) << "fresh: no guest writes yet";
  std::string started = Call("node.start", "{" + node + R"(,"wait":true})");
  EXPECT_NE(started.find("\"state\":\"ready\""), std::string::npos) << started;
}

TEST_F(LabTest, ReconcileNodeAdoptsADomainStartedBehindItsBack) {
  const std::string node = R"("lab":")" + kLab + R"(","node":"r2")";
  ASSERT_FALSE(IsError(Call("node.stop", "{" + node + R"(,"force":true,"wait":true})")));
  std::string cmd =
      "virsh -q start $(virsh -q list --all --name | grep '^lv-" + kLab + "-r2-') >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string resp = Call("node.reconcile", "{" + node + "}");
  ASSERT_FALSE(IsError(resp)) << resp;
  EXPECT_NE(resp.find("adopted"), std::string::npos) << resp;
  std::string got = testing::PollUntil(
      kPlace.socket, "node.get", "{" + node + "}",
      [](const std::string& answer) {
        simdjson::dom::parser p;
        simdjson::dom::element d;
        std::string_view state;
        return !p.parse(answer).get(d) && !d["result"]["state"].get_string().get(state) &&
               state == "ready";
      },
      testing::DeadlineClock::now() + 30s);
  ASSERT_EQ(testing::FailedNodes(got), "") << got;
  EXPECT_NE(got.find("\"state\":\"ready\",\"reason\""), std::string::npos) << got;
  EXPECT_NE(got.find("\"attached\":true"), std::string::npos) << got;
  EXPECT_TRUE(IsError(Call("node.reconcile", R"({"lab":")" + kLab + R"(","node":"ghost"})")));
}

TEST_F(LabTest, CleanupRemovesWhatNoNodeClaims) {
  // Leftovers of a lab labvirt no longer knows: a port row, an overlay and a console log.
  std::string ghost = "lvghost" + kPlace.pid;
  std::string tap = "lvg" + kPlace.pid;
  // A port is this daemon's only when it carries its instance (docs/instances.md).
  simdjson::dom::parser parser;
  simdjson::dom::element info;
  std::string info_text = Call("host.info", "{}");
  ASSERT_EQ(parser.parse(info_text).get(info), simdjson::SUCCESS) << info_text;
  std::string_view instance;
  ASSERT_EQ(info["result"]["instance"].get(instance), simdjson::SUCCESS) << info_text;
  std::string add = "ovs-vsctl add-port arch-ovs " + tap + " -- set port " + tap +
                    " external_ids:owner=labvirt external_ids:instance=" + std::string(instance) +
                    " external_ids:lab=" + ghost +
                    " external_ids:node=n1 external_ids:nic=0 -- set interface " + tap +
                    " type=internal >/dev/null 2>&1";
  ASSERT_EQ(std::system(add.c_str()), 0);
  fs::create_directories(kPlace.state_dir + "/overlays/" + ghost);
  fs::create_directories(kPlace.state_dir + "/logs/" + ghost);
  std::string overlay = kPlace.state_dir + "/overlays/" + ghost + "/n1.qcow2";
  std::string log = kPlace.state_dir + "/logs/" + ghost + "/n1.console.log";
  std::fclose(std::fopen(overlay.c_str(), "w"));
  std::fclose(std::fopen(log.c_str(), "w"));
  std::string claimed = kPlace.state_dir + "/overlays/" + kLab + "/r1.qcow2";

  std::string dry = Call("lab.cleanup", R"({"dry_run":true})");
  ASSERT_FALSE(IsError(dry)) << dry;
  EXPECT_NE(dry.find(tap), std::string::npos) << dry;
  EXPECT_NE(dry.find(overlay), std::string::npos) << dry;
  EXPECT_NE(dry.find(log), std::string::npos) << dry;
  EXPECT_EQ(dry.find(claimed), std::string::npos) << "a live node's disk is claimed: " << dry;
  EXPECT_TRUE(fs::exists(overlay)) << "dry run removes nothing";

  std::string done = Call("lab.cleanup", "{}");
  ASSERT_FALSE(IsError(done)) << done;
  EXPECT_FALSE(fs::exists(overlay));
  EXPECT_FALSE(fs::exists(log));
  EXPECT_TRUE(fs::exists(claimed));
  std::string row = "ovs-vsctl --no-wait list-ports arch-ovs | grep -c '^" + tap + "$'";
  EXPECT_NE(std::system(row.c_str()), 0) << "the port row is gone";
  EXPECT_EQ(PortsOfLab(kLab).size(), 8u) << "the lab's own ports stay";
  std::string again = Call("lab.cleanup", R"({"dry_run":true})");
  EXPECT_EQ(again.find(tap), std::string::npos) << again;
  EXPECT_TRUE(IsError(Call("lab.cleanup", R"({"dry_run":"yes"})")));
}

TEST_F(LabTest, RedeployConvergesLinksAndRemovesUnlistedNodes) {
  // The lab as first deployed (one link r1:eth1--r2:eth1) replaces the links made since.
  std::string resp = Call("lab.deploy", LabJson());
  ASSERT_FALSE(IsError(resp)) << resp;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(Call("lab.get", R"({"lab":")" + kLab + R"("})"));
  ASSERT_EQ(doc["result"]["links"].get_array().size(), 1u) << simdjson::minify(doc);
  auto r1 = DataTaps("r1"), r2 = DataTaps("r2");
  auto tags = TagsByTap();
  EXPECT_EQ(tags[r1.begin()->second], tags[r2.begin()->second]) << "eth1 pair linked again";
  EXPECT_NE(tags[std::next(r1.begin())->second], tags[std::next(r2.begin(), 2)->second])
      << "the link made by link.create is gone";
}

TEST_F(LabTest, MetricsReportBootsCallsAndConsoles) {
  std::string resp = Call("metrics", "{}");
  ASSERT_FALSE(IsError(resp)) << resp;
  simdjson::dom::parser parser;
  std::string text(parser.parse(resp)["result"].get_string().value());
  for (const char* want :
       {"labvirt_boot_seconds_count{kind=\"cisco_iosv\"}", "labvirt_readiness_seconds_bucket",
        "labvirt_libvirt_call_seconds_count{verb=\"start\"}",
        "labvirt_ovsdb_call_seconds_count{method=\"transact\"}", "labvirt_nodes{state=\"ready\"}",
        "labvirt_admission_budget 4", "labvirt_admission_ceiling 4",
        "labvirt_admission_queued{reason=\"memory\"} 0", "labvirt_libvirt_calls_queued ",
        "labvirt_host_memory_available_bytes ", "labvirt_up{backend=\"libvirt\"} 1",
        "labvirt_up{backend=\"ovsdb\"} 1", "labvirt_console_bytes_total{lab=\""}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

// labvirtd SIGKILLed while a deploy is in flight (overlays, definitions, starts half done): the
// restarted daemon adopts what was defined, deploying the lab again converges it, and nothing is
// lost or leaked — exactly one domain and one port per NIC, no orphan disk, log or port.
TEST_F(LabTest, DaemonKilledMidDeployLosesAndLeaksNothing) {
  const std::string lab = kLab + "k";
  std::string nodes;
  for (int i = 0; i < 3; ++i) {
    nodes += std::string(i ? "," : "") + R"({"name":"n)" + std::to_string(i) +
             R"(","kind":"iosv","image":"iosv.qcow2","memory_mb":64,"nics":1})";
  }
  std::string spec = R"({"name":")" + lab + R"(","nodes":[)" + nodes + "]";
  auto c = testing::ConnectBounded(kPlace.socket);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Send("lab.deploy", spec + "}", 1).ok());
  std::this_thread::sleep_for(300ms);  // somewhere in the middle of it
  g_daemon->Kill();
  g_daemon->Start();
  ASSERT_TRUE(WaitHealthy());
  std::string resp = Call("lab.deploy", spec + R"(,"wait":true})");
  ASSERT_FALSE(IsError(resp)) << resp;
  ASSERT_EQ(testing::FailedNodes(resp), "") << resp;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(resp);
  ASSERT_EQ(doc["result"]["nodes"].get_array().size(), 3u) << resp;
  for (auto n : doc["result"]["nodes"].get_array()) {
    EXPECT_EQ(std::string_view(n["state"].get_string()), "ready") << simdjson::minify(n);
  }
  EXPECT_EQ(DomainsOfLab(lab), 3);
  EXPECT_EQ(PortsOfLab(lab).size(), 3u);
  std::string leftovers = Call("lab.cleanup", R"({"dry_run":true})");
  EXPECT_EQ(leftovers.find(lab), std::string::npos)
      << "nothing of the lab is orphaned: " << leftovers;
  std::string gone = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  EXPECT_NE(gone.find("\"destroyed\":3"), std::string::npos) << gone;
  EXPECT_EQ(DomainsOfLab(lab), 0);
  EXPECT_TRUE(PortsOfLab(lab).empty());
}

TEST_F(LabTest, DestroyLeavesNothingBehind) {
  std::string resp = Call("lab.destroy", R"({"lab":")" + kLab + R"("})");
  EXPECT_NE(resp.find("\"destroyed\":2"), std::string::npos) << resp;
  EXPECT_EQ(DomainsOfLab(kLab), 0);
  EXPECT_TRUE(PortsOfLab(kLab).empty()) << "no dangling port rows";
  EXPECT_FALSE(fs::exists(kPlace.state_dir + "/overlays/" + kLab + "/r1.qcow2"));
  EXPECT_FALSE(fs::exists(kPlace.state_dir + "/overlays/" + kLab + "/r2.qcow2"));
  EXPECT_EQ(Call("lab.list", "{}").find(kLab), std::string::npos);
  // Idempotent.
  EXPECT_NE(Call("lab.destroy", R"({"lab":")" + kLab + R"("})").find("\"destroyed\":0"),
            std::string::npos);
}

}  // namespace
}  // namespace labvirt
