// labvirtctl on labs, against the built labvirtd: a JSON topology through every node and link
// verb, a YAML topology whose nodes fail, events in table and JSON form, cleanup. Same daemon and
// suite as cli_test.cc (cli_test_base.h).
#include "tests/integration/cli_test_base.h"

namespace labvirt {
namespace {

using namespace cli_test;

// A JSON topology of stopped nodes, then every node and link verb on it.
TEST_F(CliTest, JsonLabThroughEveryNodeAndLinkVerb) {
  CtlRun deploy = Expect(0, {"deploy", kDir + "/jlab.json"});
  EXPECT_NE(deploy.out.find("lab jlab deployed: 2 nodes"), std::string::npos) << deploy.out;
  EXPECT_NE(deploy.out.find("0 ready, 0 failed, 2 not started"), std::string::npos) << deploy.out;

  CtlRun lab = Expect(0, {"status", "jlab"});
  EXPECT_EQ(lab.out.rfind("NODE ", 0), 0u) << lab.out;
  EXPECT_NE(lab.out.find("\nr1 "), std::string::npos) << lab.out;
  EXPECT_NE(lab.out.find("defined"), std::string::npos) << lab.out;
  EXPECT_NE(lab.out.find("r1:GigabitEthernet0/0--r2:GigabitEthernet0/0"), std::string::npos);
  // Every data NIC under its vendor name and its ethN alias (issue 13).
  EXPECT_NE(lab.out.find("\nNODE           INTERFACE                ALIAS  LINK\n"),
            std::string::npos)
      << lab.out;
  EXPECT_NE(lab.out.find("\nr2             GigabitEthernet0/1       eth2   -\n"), std::string::npos)
      << lab.out;
  simdjson::dom::element l = Json({"status", "jlab"});
  EXPECT_EQ(l["nodes"].at(0)["nics"].at(0)["alias"].get_string().value_unsafe(), "eth1")
      << json_text_;
  EXPECT_EQ(l["nodes"].get_array().size(), 2u) << json_text_;
  EXPECT_EQ(l["links"].get_array().size(), 1u) << json_text_;
  CtlRun labs = Expect(0, {"status"});
  EXPECT_NE(labs.out.find("\njlab "), std::string::npos) << labs.out;

  CtlRun node = Expect(0, {"node", "jlab", "r1"});
  EXPECT_NE(node.out.find("state          defined"), std::string::npos) << node.out;
  EXPECT_EQ(Json({"node", "jlab", "r1"})["name"].get_string().value_unsafe(), "r1");

  // Live links between the second NICs: create, down, up, delete.
  const std::string id = "r1:GigabitEthernet0/1--r2:GigabitEthernet0/1";
  CtlRun create = Expect(0, {"link", "jlab", "create", "r1:eth2", "r2:eth2"});
  EXPECT_NE(create.out.find("id             " + id), std::string::npos) << create.out;
  EXPECT_FALSE(Json({"link", "jlab", "down", id})["up"].get_bool().value_unsafe()) << json_text_;
  CtlRun up = Expect(0, {"link", "jlab", "up", id});
  EXPECT_NE(up.out.find("up             true"), std::string::npos) << up.out;
  EXPECT_EQ(Json({"link", "jlab", "delete", id})["id"].get_string().value_unsafe(), id);
  EXPECT_EQ(Json({"status", "jlab"})["links"].get_array().size(), 1u) << json_text_;
  ExpectError(1, {"link", "jlab", "delete", id}, id);

  // The test driver attaches and detaches no devices.
  ExpectError(1, {"nic-add", "jlab", "r1"}, "NIC not added");
  ExpectError(1, {"--json", "nic-add", "jlab", "r1"}, "\"code\":-32603");
  ExpectError(1, {"nic-remove", "jlab", "r1"}, "NIC not removed");

  CtlRun wipe = Expect(0, {"wipe", "jlab", "r1"});
  EXPECT_NE(wipe.out.find("state          defined"), std::string::npos) << wipe.out;
  EXPECT_EQ(Json({"wipe", "jlab", "r2"})["name"].get_string().value_unsafe(), "r2");
  CtlRun reconcile = Expect(0, {"reconcile", "jlab", "r1"});
  EXPECT_NE(reconcile.out.find("actions "), std::string::npos) << reconcile.out;
  EXPECT_EQ(Json({"reconcile", "jlab", "r1"})["node"]["name"].get_string().value_unsafe(), "r1");

  // Never started: no console log, no console.
  ExpectError(1, {"tail", "jlab", "r1"}, "no console log");
  ExpectError(1, {"--json", "tail", "jlab", "r1", "--bytes", "100"}, "\"field\":\"node\"");
  ExpectError(1, {"console", "jlab", "r1"}, "no console for jlab/r1");

  // start asks for the node; the test driver then refuses to start it (paused).
  EXPECT_EQ(Json({"start", "jlab", "r1"})["desired"].get_string().value_unsafe(), "running");
  CtlRun wait = Ctl({"start", "jlab", "r2", "--wait"});
  EXPECT_EQ(wait.rc, 1) << Describe({"start --wait"}, wait);
  EXPECT_NE(wait.out.find("state          failed"), std::string::npos) << wait.out;
  EXPECT_TRUE(OneLine(wait.err)) << wait.err;
  EXPECT_NE(wait.err.find("r2 failed: start "), std::string::npos) << wait.err;
  CtlRun stop = Expect(0, {"stop", "jlab", "r1"});
  EXPECT_NE(stop.out.find("desired        stopped"), std::string::npos) << stop.out;
  EXPECT_EQ(Json({"stop", "jlab", "r2", "--force", "--timeout", "5"})["desired"]
                .get_string()
                .value_unsafe(),
            "stopped");
  CtlRun restart = Ctl({"restart", "jlab", "r1", "--wait"});
  EXPECT_EQ(restart.rc, 1) << Describe({"restart --wait"}, restart);
  EXPECT_NE(restart.err.find("r1 failed: "), std::string::npos) << restart.err;
  EXPECT_EQ(Json({"restart", "jlab", "r2"})["desired"].get_string().value_unsafe(), "running");

  CtlRun destroy = Expect(0, {"destroy", "jlab"});
  EXPECT_NE(destroy.out.find("destroyed      2"), std::string::npos) << destroy.out;
  ExpectError(1, {"status", "jlab"}, "no lab named 'jlab'");
}

// A YAML topology whose nodes fail: deploy reports each and exits 1. A container lab in --json.
TEST_F(CliTest, YamlDeployReportsFailedNodesAndDestroy) {
  CtlRun deploy = Expect(1, {"deploy", kDir + "/ylab.yaml"});
  EXPECT_NE(deploy.out.find("lab ylab deployed: 2 nodes"), std::string::npos) << deploy.out;
  EXPECT_NE(deploy.out.find("is a container image, but kind cisco_iosv runs VMs"),
            std::string::npos)
      << deploy.out;
  EXPECT_NE(deploy.out.find("0 ready, 2 failed"), std::string::npos) << deploy.out;
  // Exit 1 comes with one line on stderr, `message: reason`, as for every other failure.
  EXPECT_TRUE(OneLine(deploy.err)) << deploy.err;
  EXPECT_NE(deploy.err.find("labvirtctl: deploy of ylab: 2 node(s) failed: c1: image"),
            std::string::npos)
      << deploy.err;
  EXPECT_NE(deploy.err.find("; r1: "), std::string::npos) << deploy.err;
  CtlRun lab = Expect(0, {"status", "ylab"});
  EXPECT_NE(lab.out.find("\nc1 "), std::string::npos) << lab.out;

  // --json: one event per line, each JSON, the container node's failure among them.
  CtlRun json = Expect(1, {"--json", "deploy", kDir + "/clab.json"});
  size_t lines = 0, failed = 0;
  for (size_t pos = 0, nl; (nl = json.out.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    simdjson::dom::element ev;
    ASSERT_EQ(parser_.parse(json.out.substr(pos, nl - pos)).get(ev), simdjson::SUCCESS) << json.out;
    ++lines;
    failed += ev["type"].get_string().value_unsafe() == "node.state" &&
              ev["data"]["state"].get_string().value_unsafe() == "failed";
  }
  EXPECT_GT(lines, 0u) << json.out;
  EXPECT_EQ(failed, 1u) << json.out;
  EXPECT_TRUE(OneLine(json.err)) << json.err;
  EXPECT_NE(json.err.find("1 node(s) failed: c1: "), std::string::npos) << json.err;
  CtlRun no_wait = Expect(0, {"deploy", kDir + "/clab.json", "--no-wait"});
  EXPECT_NE(no_wait.out.find("lab clab deployed: 1 nodes"), std::string::npos) << no_wait.out;

  CtlRun destroy = Expect(0, {"destroy", "clab"});
  EXPECT_NE(destroy.out.find("destroyed      1"), std::string::npos) << destroy.out;
  EXPECT_EQ(Json({"destroy", "clab"})["destroyed"].get_int64().value_unsafe(), 0) << json_text_;
  ExpectError(1, {"status", "clab"}, "no lab named 'clab'");
  Expect(0, {"destroy", "ylab"});
}

// events in both forms, following a lab that is deployed and destroyed until both have seen it.
TEST_F(CliTest, EventsStreamInTableAndJson) {
  Background table({"events", "--lab", "elab"});
  Background json({"--json", "events", "--lab=elab", "--type", "lab."});
  // The subscriptions are made at some point after start; deploy again until both saw one.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    Expect(0, {"deploy", kDir + "/elab.json", "--no-wait"});
    Expect(0, {"destroy", "elab"});
    seen = table.Poll(500ms).find("lab.deployed") != std::string::npos &&
           json.Poll(500ms).find("lab.deployed") != std::string::npos;
  }
  ASSERT_TRUE(seen) << "table:\n" << table.Poll(0ms) << "\njson:\n" << json.Poll(0ms);
  std::string t = table.Poll(0ms);
  EXPECT_NE(("\n" + t).find("\nnode.state "), std::string::npos) << t;
  EXPECT_NE(t.find(" elab/c1 "), std::string::npos) << t;
  std::string j = json.Poll(0ms);
  for (size_t pos = 0, nl; (nl = j.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    simdjson::dom::element ev;
    ASSERT_EQ(parser_.parse(j.substr(pos, nl - pos)).get(ev), simdjson::SUCCESS) << j;
    EXPECT_EQ(ev["lab"].get_string().value_unsafe(), "elab") << j;
    EXPECT_EQ(ev["type"].get_string().value_unsafe().rfind("lab.", 0), 0u) << j;
  }
  ExpectError(2, {"events", "--lab"}, "--lab needs a value");
  ExpectError(2, {"events", "elab"}, "usage: labvirtctl events");
}

TEST_F(CliTest, CleanupDryRunKeepsAndCleanupRemoves) {
  const std::string stray = kDir + "/state/overlays/ghost/n1.qcow2";
  fs::create_directories(kDir + "/state/overlays/ghost");
  WriteFile(stray, "not a real overlay");
  CtlRun dry = Expect(0, {"cleanup", "--dry-run"});
  EXPECT_NE(dry.out.find("dry_run        true"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find(stray), std::string::npos) << dry.out;
  simdjson::dom::element d = Json({"cleanup", "--dry-run"});
  EXPECT_TRUE(d["dry_run"].get_bool().value_unsafe()) << json_text_;
  EXPECT_TRUE(fs::exists(stray)) << "a dry run removes nothing";
  CtlRun real = Expect(0, {"cleanup"});
  EXPECT_NE(real.out.find("dry_run        false"), std::string::npos) << real.out;
  EXPECT_NE(real.out.find(stray), std::string::npos) << real.out;
  EXPECT_FALSE(fs::exists(stray));
  simdjson::dom::element again = Json({"cleanup"});
  EXPECT_EQ(again["overlays"].get_array().size(), 0u) << json_text_;
  ExpectError(2, {"cleanup", "now"}, "usage: labvirtctl cleanup");
}

}  // namespace
}  // namespace labvirt
