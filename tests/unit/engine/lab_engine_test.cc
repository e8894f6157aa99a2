// LabEngine logic without libvirt: the real engine, catalog, worker pool, overlays (qemu-img) and
// image checks, with an in-process hypervisor that keeps a set of defined domains and answers on
// a later loop pass. Nodes are deployed with `start: false`, so no VM is ever asked for; what is
// tested is the bookkeeping: links, NIC limits, refusals, re-deploys, races, events.
#include "providers/overlay.h"
#include "providers/state_paths.h"
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

TEST_F(LabEngineTest, LinksAreCreatedDeletedAndRefusedWithTheField) {
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth1","r2:eth1"]})"), "error"));
  EXPECT_EQ(hv_->defined.size(), 2u);
  EXPECT_TRUE(Has(Lab(), R"("id":"r1:GigabitEthernet0/0--r2:GigabitEthernet0/0","up":true)"));

  std::string made = Await([&](auto r) { engine_->CreateLink("lab1", "r1:eth2", "r2:eth2", r); });
  EXPECT_TRUE(Has(made, R"("id":"r1:GigabitEthernet0/1--r2:GigabitEthernet0/1")")) << made;
  EXPECT_TRUE(Has(Node("r1"), R"("link":"r1:GigabitEthernet0/1--r2:GigabitEthernet0/1")"));
  bool created_event = false;
  for (const auto& ev : events_) created_event |= ev.type == "link.created" && ev.lab == "lab1";
  EXPECT_TRUE(created_event) << "the event names its lab";

  // Each refusal names the endpoint and leaves the lab as it was.
  std::string before = Lab();
  for (const auto& [a, b, want] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"r1:eth1", "r2:eth3", "already in link"},
           {"r1:eth3", "r2:eth3", "node.nic.add"},
           {"r1:eth99", "r2:eth1", "out of range"},
           {"nope:eth1", "r2:eth1", "no node named"},
           {"r1", "r2:eth1", "NODE:INTERFACE"},
           {"r1:eth2", "r1:eth2", "already in link"}}) {
    std::string got = Await([&](auto r) { engine_->CreateLink("lab1", a, b, r); });
    EXPECT_TRUE(Has(got, "error") && Has(got, want)) << a << " " << b << " -> " << got;
  }
  EXPECT_EQ(Lab(), before);
  EXPECT_TRUE(Has(Await([&](auto r) { engine_->CreateLink("nolab", "r1:eth1", "r2:eth1", r); }),
                  R"("field":"lab")"));

  std::string down = Await([&](auto r) {
    engine_->SetLinkState("lab1", "r1:GigabitEthernet0/1--r2:GigabitEthernet0/1", false, r);
  });
  EXPECT_TRUE(Has(down, R"("up":false)")) << down;
  std::string gone = Await([&](auto r) {
    engine_->DeleteLink("lab1", "r1:GigabitEthernet0/1--r2:GigabitEthernet0/1", r);
  });
  EXPECT_FALSE(Has(gone, "error")) << gone;
  EXPECT_FALSE(Has(Node("r1"), "GigabitEthernet0/1--")) << "the NIC forgot the link";
  EXPECT_TRUE(Has(Await([&](auto r) { engine_->DeleteLink("lab1", "x--y", r); }), "no link"));
}

// Issue 13: lab.deploy names the lab `lab` (as every other method does), keeps `name` as an alias,
// and every refusal's data.field is the real field, in one path syntax ("nodes[1].image").
TEST_F(LabEngineTest, DeployTakesLabOrItsAliasNameAndRefusalsNameTheRealField) {
  for (const auto& [json, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"lab":"a","nodes":[]})", "a"},
           {R"({"name":"b","nodes":[]})", "b"},
           {R"({"lab":"a","name":"a","nodes":[]})", R"("field":"name")"},
           {R"({"nodes":[]})", R"("field":"lab")"},
           {R"({"lab":5,"nodes":[]})", R"("field":"lab")"},
           {R"({"lab":"a","nodes":[],"links":[{"endpoints":["x:eth1","y:eth1"],"speed":1}]})",
            R"("field":"links[0].speed")"}}) {
    auto spec = ParseLabSpec(parser_.parse(json).value());
    if (!spec.ok()) {
      std::string data = ToRpcError(spec.status()).data_json;
      EXPECT_TRUE(Has(data, want)) << json << " -> " << data;
    } else {
      EXPECT_EQ(spec.value().name, want) << json;
    }
  }
  std::string got = DeployJson(
      R"({"lab":"lab2","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","start":false},)"
      R"({"name":"r2","kind":"iosv","image":"missing.qcow2","start":false}]})");
  EXPECT_TRUE(Has(got, R"("field":"nodes[1].image")")) << got;
  EXPECT_FALSE(Has(got, "nodes.r2")) << "one path syntax: " << got;
  EXPECT_TRUE(hv_->defined.empty()) << "rolled back";
  got = DeployJson(R"({"name":"bad lab","nodes":[]})");
  EXPECT_TRUE(Has(got, R"("field":"name")")) << "the member the client used: " << got;
}

// Overlays are made in parts at once (one per core, engine/lab/lab_deploy_files.cc): every node of
// a larger lab gets its own, and when several cannot be made the answer names the one earliest in
// the spec, as a pass in order would, with nothing defined.
TEST_F(LabEngineTest, OverlaysMadeInPartsCoverEveryNodeAndAFailureNamesTheEarliestNode) {
  auto lab = [](const std::string& name) {
    std::string json = R"({"lab":")" + name + R"(","nodes":[)";
    for (int i = 0; i < 9; ++i) {
      json += std::string(i ? "," : "") + R"({"name":"r)" + std::to_string(i) +
              R"(","kind":"iosv","image":"base.qcow2","start":false})";
    }
    return json + "]}";
  };
  std::string got = DeployJson(lab("many"));
  ASSERT_FALSE(Has(got, "error")) << got;
  for (int i = 0; i < 9; ++i) {
    auto overlay =
        providers::OverlayPath((dir_ / "state").string(), "many", "r" + std::to_string(i));
    EXPECT_TRUE(providers::ReadQcow2BackingFile(overlay).ok()) << overlay;
  }
  // r3 and r6 (in different parts on any host with 2-4 cores) find an unusable file there.
  for (const char* node : {"r6", "r3"}) {
    auto path = providers::OverlayPath((dir_ / "state").string(), "broken", node);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << "not a qcow2 image";
  }
  size_t defined = hv_->defined.size();
  got = DeployJson(lab("broken"));
  EXPECT_TRUE(Has(got, R"("field":"nodes[3]")")) << got;
  EXPECT_TRUE(Has(got, "is unusable")) << got;
  EXPECT_EQ(hv_->defined.size(), defined) << "nothing defined";
}

// Issue 13: in a mixed lab, ethN is the same data NIC on an IOSv and on a Linux node (eth1 is the
// first: GigabitEthernet0/0 and the guest's eth0); lab.get shows each NIC's name and alias.
TEST_F(LabEngineTest, EthNIsTheSameDataNicOnEveryKindAndNodesShowBothNames) {
  std::string got = DeployJson(
      R"({"lab":"lab1","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","start":false},)"
      R"({"name":"h1","kind":"linux","image":"base.qcow2","start":false},)"
      R"({"name":"h2","kind":"generic","image":"base.qcow2","start":false}],)"
      R"("links":[{"endpoints":["r1:eth1","h1:eth1"]},{"endpoints":["r1:eth2","h2:eth2"]},)"
      R"({"endpoints":["r1:GigabitEthernet0/2","h1:eth3"]}]})");
  ASSERT_FALSE(Has(got, "error")) << got;
  EXPECT_TRUE(Has(got, R"("id":"r1:GigabitEthernet0/0--h1:eth0")")) << got;
  EXPECT_TRUE(Has(got, R"("id":"r1:GigabitEthernet0/1--h2:eth1")")) << got;
  EXPECT_TRUE(Has(got, R"("id":"r1:GigabitEthernet0/2--h1:eth2")")) << got;
  EXPECT_TRUE(Has(Node("h1"), R"("interface":"eth0","alias":"eth1")")) << Node("h1");
  EXPECT_TRUE(Has(Node("r1"), R"("interface":"GigabitEthernet0/3","alias":"eth4")")) << Node("r1");
  std::string bad = Await([&](auto r) { engine_->CreateLink("lab1", "h1:eth0", "r1:eth4", r); });
  EXPECT_TRUE(Has(bad, "from 1")) << bad;
}

// The <labvirt:node> of a stopped iosv node `lab/node` owned by `instance` ("" renders metadata
// as labvirt wrote it before it had instances: no <instance> element).
std::string NodeMetadataXml(const std::string& instance, const std::string& lab,
                            const std::string& node) {
  providers::NodeMetadata md;
  md.lab = lab;
  md.node = node;
  md.kind = "iosv";
  md.tag = providers::NodeTag(lab, node);
  md.desired_state = "stopped";
  md.instance = instance.empty() ? providers::kDefaultInstance : instance;
  std::string xml = providers::RenderNodeMetadata(md);
  if (instance.empty()) {
    const std::string end = "</labvirt:instance>";
    size_t from = xml.find("<labvirt:instance>");
    xml.erase(from, xml.find(end) + end.size() - from);
  }
  return xml;
}

// Issue 13: two labvirtds on one host took over each other's labs. A daemon adopts only its own
// instance's domains (old metadata without an instance is the default instance's), reports the
// others as foreign, never cleans them, and refuses to deploy a lab name another instance holds.
TEST_F(LabEngineTest, ReconcileAdoptsOnlyThisInstancesDomainsAndReportsTheOthers) {
  hv_->listed = {{"lv-theirs-r1-0", false, false, true, NodeMetadataXml("other", "theirs", "r1")},
                 {"lv-old-r1-0", false, false, true, NodeMetadataXml("", "old", "r1")},
                 {"lv-mine-r1-0", false, false, true, NodeMetadataXml("mine", "mine", "r1")}};
  MakeEngine("mine");
  Reconcile();
  EXPECT_EQ(engine_->ListLabs().value().find("theirs"), std::string::npos);
  EXPECT_EQ(engine_->ListLabs().value().find("old"), std::string::npos);
  EXPECT_TRUE(engine_->GetLab("mine").ok());
  ASSERT_FALSE(events_.empty());
  EXPECT_TRUE(Has(events_.back().data_json, R"("adopted":1)")) << events_.back().data_json;
  EXPECT_TRUE(Has(events_.back().data_json, R"("other_instances":2)")) << events_.back().data_json;

  std::string cleanup = Await([&](auto r) { engine_->Cleanup(/*dry_run=*/true, r); });
  EXPECT_TRUE(Has(cleanup, R"("domains":[])")) << "not leftovers of this instance: " << cleanup;
  EXPECT_TRUE(Has(cleanup, R"({"name":"lv-theirs-r1-0","instance":"other"})")) << cleanup;
  EXPECT_TRUE(Has(cleanup, R"({"name":"lv-old-r1-0","instance":"default"})")) << cleanup;
  // Ports: another instance's are never removed, even when this daemon knows no such node.
  // A management gateway (no node) stays while its lab exists and is a leftover once it is gone.
  plumber_.ports = {
      {"lvtheirs-0", "theirs", "r1", "other"},
      {"lvgone-0", "gone", "r1", "mine"},
      {.port = "lvmine-gw", .lab = "mine", .node = "", .instance = "mine", .gateway = true},
      {.port = "lvgone-gw", .lab = "gone", .node = "", .instance = "mine", .gateway = true}};
  cleanup = Await([&](auto r) { engine_->Cleanup(/*dry_run=*/false, r); });
  EXPECT_EQ(plumber_.removed, (std::vector<std::string>{"lvgone-0", "lvgone-gw"})) << cleanup;
  plumber_.ports.clear();

  std::string taken = DeployJson(
      R"({"lab":"theirs","nodes":[{"name":"r2","kind":"iosv","image":"base.qcow2","start":false}]})");
  EXPECT_TRUE(Has(taken, R"("field":"lab")") && Has(taken, "instance 'other'")) << taken;
  EXPECT_TRUE(hv_->defined.empty());

  // The default instance (the daemon with the default state dir) adopts the old node.
  MakeEngine(providers::kDefaultInstance);
  Reconcile();
  EXPECT_TRUE(engine_->GetLab("old").ok());
  EXPECT_TRUE(!engine_->GetLab("theirs").ok());
  EXPECT_TRUE(!engine_->GetLab("mine").ok());
}

TEST_F(LabEngineTest, NicsGrowToTheKindsMaximumAndShrinkFromTheEnd) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  int max = catalog_->Find("cisco_iosv")->max_nics;
  for (int n = 2; n < max; ++n) {
    std::string got = Await([&](auto r) { engine_->AddNic("lab1", "r1", r); });
    ASSERT_FALSE(Has(got, "error")) << n << ": " << got;
  }
  EXPECT_EQ(hv_->attached.size(), static_cast<size_t>(max - 2));
  EXPECT_TRUE(Has(hv_->attached.back(), "<interface type='ethernet'>")) << hv_->attached.back();
  std::string over = Await([&](auto r) { engine_->AddNic("lab1", "r1", r); });
  EXPECT_TRUE(Has(over, "error") && Has(over, "data NICs its kind allows")) << over;
  std::string removed = Await([&](auto r) { engine_->RemoveNic("lab1", "r1", r); });
  EXPECT_TRUE(Has(removed, R"("pending_in_guest":false)")) << removed;
  ASSERT_EQ(hv_->detached.size(), 1u);
  EXPECT_EQ(hv_->detached[0], hv_->attached.back()) << "detached by the same element (its MAC)";
}

TEST_F(LabEngineTest, TheLastNicCannotBeRemovedWhileLinked) {
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth2","r2:eth2"]})"), "error"));
  std::string got = Await([&](auto r) { engine_->RemoveNic("lab1", "r1", r); });
  EXPECT_TRUE(Has(got, "delete the link first")) << got;
  EXPECT_TRUE(hv_->detached.empty());
}

TEST_F(LabEngineTest, RedeployConvergesLinksAndRemovesUnlistedNodes) {
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth1","r2:eth1"]})"), "error"));
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth2","r2:eth2"]})"), "error"));
  EXPECT_FALSE(Has(Lab(), "GigabitEthernet0/0--")) << Lab();
  EXPECT_TRUE(Has(Node("r1"), R"("link":"r1:GigabitEthernet0/1--r2:GigabitEthernet0/1")"));
  EXPECT_FALSE(Has(Node("r1"), "GigabitEthernet0/0--")) << "the old link left the NIC";

  // A re-deploy without r2 destroys it.
  auto doc = parser_.parse(
      std::string(R"({"name":"lab1","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2",)"
                  R"("nics":2,"start":false}]})"));
  auto spec = ParseLabSpec(doc.value());
  ASSERT_TRUE(spec.ok());
  ASSERT_FALSE(
      Has(Await([&](auto r) { engine_->Deploy((std::move(spec)).value(), false, r); }), "error"));
  for (int i = 0; i < 1000 && Node("r2") != "error"; ++i) reactor_->RunOnce(true);
  EXPECT_EQ(Node("r2"), "error");
  EXPECT_EQ(hv_->defined.size(), 1u);
  bool removed_event = false;
  for (const auto& ev : events_) removed_event |= ev.type == "node.removed" && ev.node == "r2";
  EXPECT_TRUE(removed_event);
}

TEST_F(LabEngineTest, ASecondDeployOfALabWaitsForTheFirstAndConvergesOnIt) {
  // A controller retrying lab.deploy before the first answered: the nodes being made are not in
  // the lab yet, and a second deploy making them again would race on their domains and disks.
  const std::string json = R"({"name":"lab1","nodes":[)"
                           R"({"name":"r1","kind":"iosv","image":"base.qcow2","start":false},)"
                           R"({"name":"r2","kind":"iosv","image":"base.qcow2","start":false}]})";
  auto d1 = parser_.parse(json);
  auto s1 = ParseLabSpec(d1.value());
  ASSERT_TRUE(s1.ok());
  simdjson::dom::parser p2;
  auto d2 = p2.parse(json);
  auto s2 = ParseLabSpec(d2.value());
  ASSERT_TRUE(s2.ok());
  std::optional<Result<std::string>> first, second;
  engine_->Deploy(std::move(s1).value(), false, [&](Result<std::string> r) { first = r; });
  engine_->Deploy(std::move(s2).value(), false, [&](Result<std::string> r) { second = r; });
  for (int i = 0; i < 100000 && !(first && second); ++i) reactor_->RunOnce(/*block=*/true);
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->ok()) << first->status().ToString();
  EXPECT_TRUE(second->ok()) << second->status().ToString();
  EXPECT_EQ(hv_->defines, 2) << "each node defined once";
  EXPECT_NE(Node("r1"), "error");
  EXPECT_NE(Node("r2"), "error");
}

TEST_F(LabEngineTest, AFailedRedeployLeavesTheLinksAsTheyWere) {
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth1","r2:eth1"]})"), "error"));
  std::string lab = Lab();
  auto doc = parser_.parse(std::string(
      R"({"name":"lab1","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","nics":2},)"
      R"({"name":"r2","kind":"iosv","image":"base.qcow2","nics":2},)"
      R"({"name":"r3","kind":"iosv","image":"missing.qcow2"}],)"
      R"("links":[{"endpoints":["r1:eth2","r3:eth1"]}]})"));
  auto spec = ParseLabSpec(doc.value());
  ASSERT_TRUE(spec.ok());
  std::string got = Await([&](auto r) { engine_->Deploy((std::move(spec)).value(), false, r); });
  EXPECT_TRUE(Has(got, "error") && Has(got, "missing.qcow2")) << got;
  EXPECT_EQ(Lab(), lab);
  EXPECT_EQ(hv_->defined.size(), 2u) << "nothing of r3 left";
}

TEST_F(LabEngineTest, DestroyDuringDeployRollsTheDeployBack) {
  auto doc = parser_.parse(std::string(
      R"({"name":"race","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","start":false}]})"));
  auto spec = ParseLabSpec(doc.value());
  ASSERT_TRUE(spec.ok());
  std::optional<Result<std::string>> deployed, destroyed;
  engine_->Deploy((std::move(spec)).value(), false,
                  [&](Result<std::string> r) { deployed = std::move(r); });
  engine_->Destroy("race", [&](Result<std::string> r) { destroyed = std::move(r); });
  for (int i = 0; i < 100000 && !(deployed && destroyed); ++i) reactor_->RunOnce(true);
  ASSERT_TRUE(deployed && destroyed);
  ASSERT_TRUE(!deployed->ok());
  EXPECT_TRUE(
      Has(ToRpcError(deployed->status()).data_json, "destroyed while it was being deployed"));
  for (int i = 0; i < 1000 && !hv_->defined.empty(); ++i) reactor_->RunOnce(true);
  EXPECT_TRUE(hv_->defined.empty()) << "the deploy's domain was undefined again";
  EXPECT_TRUE(Has(engine_->ListLabs().value(), "[]"));
}

TEST_F(LabEngineTest, WipeIsRefusedForUnknownNodesAndRecreatesTheOverlay) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  std::string overlay = (dir_ / "state/overlays/lab1/r1.qcow2").string();
  ASSERT_TRUE(fs::exists(overlay));
  std::ofstream(overlay, std::ios::app) << "guest writes";  // make it differ from a fresh one
  auto size = fs::file_size(overlay);
  // A stateful-UEFI node's variables are part of its disk state (libvirt copies the template
  // again at the next start).
  fs::path nvram = dir_ / "state/nvram/lab1/r1_VARS.fd";
  fs::create_directories(nvram.parent_path());
  std::ofstream(nvram) << "boot entries";
  std::string wiped = Await([&](auto r) { engine_->WipeNode("lab1", "r1", r); });
  EXPECT_FALSE(Has(wiped, "error")) << wiped;
  EXPECT_LT(fs::file_size(overlay), size);
  EXPECT_FALSE(fs::exists(nvram));
  EXPECT_TRUE(Has(Await([&](auto r) { engine_->WipeNode("lab1", "nope", r); }), "no node"));
}

TEST_F(LabEngineTest, ReconcileNodeFailsANodeWhoseDomainVanished) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  hv_->defined.clear();  // undefined behind labvirt's back
  std::string got = Await([&](auto r) { engine_->ReconcileNode("lab1", "r1", r); });
  EXPECT_TRUE(Has(got, "is gone from libvirt")) << got;
  EXPECT_TRUE(Has(Node("r1"), R"("state":"failed")"));
}

TEST_F(LabEngineTest, EveryNodeVerbNamesTheUnknownNode) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  using Verb = void (LabEngine::*)(const std::string&, const std::string&, LabEngine::Reply);
  for (Verb verb : {&LabEngine::WipeNode, &LabEngine::ReconcileNode, &LabEngine::AddNic,
                    &LabEngine::RemoveNic}) {
    std::string got = Await([&](auto r) { (engine_.get()->*verb)("lab1", "ghost", r); });
    EXPECT_TRUE(Has(got, R"("field":"node")") && Has(got, "ghost")) << got;
  }
  std::string got = Await([&](auto r) { engine_->RestartNode("lab1", "ghost", false, r); });
  EXPECT_TRUE(Has(got, R"("field":"node")")) << got;
  EXPECT_EQ(hv_->defined.size(), 2u) << "nothing else touched";
}

// The first MAC in a node's JSON.
std::string FirstMac(const std::string& node_json) {
  auto at = node_json.find(R"("mac":")");
  return at == std::string::npos ? "" : node_json.substr(at + 7, 17);
}

TEST_F(LabEngineTest, HostMacsAreWalkedOnceAndAgainOnlyAfterAForeignDefine) {
  hv_->on_defined = [&](const std::string& name) {
    engine_->OnDomainEvent({name, providers::DomainEvent::kDefined, ""});
  };
  ASSERT_FALSE(Has(Deploy(""), "error"));
  EXPECT_EQ(hv_->list_macs_calls, 1);
  std::string mac = FirstMac(Node("r1"));
  ASSERT_EQ(mac.size(), 17u) << Node("r1");
  auto destroy = [&] {
    ASSERT_FALSE(Has(Await([&](auto r) { engine_->Destroy("lab1", r); }), "error"));
  };
  destroy();
  ASSERT_FALSE(Has(Deploy(""), "error"));
  EXPECT_EQ(hv_->list_macs_calls, 1)
      << "no walk when nothing foreign appeared (a deploy's own defines are not foreign)";
  destroy();
  // Another tool defines a domain holding that MAC: the next deploy walks again and avoids it.
  hv_->foreign_macs = {mac};
  engine_->OnDomainEvent({"someone-elses-vm", providers::DomainEvent::kDefined, ""});
  ASSERT_FALSE(Has(Deploy(""), "error"));
  EXPECT_EQ(hv_->list_macs_calls, 2);
  EXPECT_FALSE(Has(Node("r1"), mac)) << "collides with the foreign domain's MAC";
  EXPECT_FALSE(Has(Node("r2"), mac));
}

TEST_F(LabEngineTest, MetadataWritesOfANodeLandOneAtATimeAndTheLastStateWins) {
  ASSERT_FALSE(Has(Deploy(R"({"endpoints":["r1:eth1","r2:eth1"]})"), "error"));
  const std::string link = "r1:GigabitEthernet0/0--r2:GigabitEthernet0/0";
  std::vector<std::optional<Result<std::string>>> replies(3);
  bool states[] = {false, true, false};
  for (int i = 0; i < 3; ++i) {
    engine_->SetLinkState("lab1", link, states[i],
                          [&, i](Result<std::string> r) { replies[i] = r; });
  }
  for (int i = 0; i < 1000 && !(replies[0] && replies[1] && replies[2]); ++i)
    reactor_->RunOnce(/*block=*/true);
  ASSERT_TRUE(replies[0] && replies[1] && replies[2]) << "every link.set_state answered";
  EXPECT_EQ(hv_->max_metadata_in_flight, 1) << "two writes of one domain were in flight";
  std::string domain;
  for (const auto& [d, xml] : hv_->metadata) {
    if (Has(xml, "<labvirt:name>r1</labvirt:name>")) domain = d;
  }
  ASSERT_FALSE(domain.empty());
  EXPECT_TRUE(Has(hv_->metadata[domain], "link-state='down'")) << hv_->metadata[domain];
}

TEST_F(LabEngineTest, ADestroyThatCannotUndefineKeepsThatNodeToTryAgain) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  std::string overlay = (dir_ / "state/overlays/lab1/r1.qcow2").string();
  hv_->fail_undefine = "-r1-";
  std::string first = Await([&](auto r) { engine_->Destroy("lab1", r); });
  EXPECT_TRUE(Has(first, "destroy incomplete") && Has(first, "r1: cannot undefine")) << first;
  std::string lab = Lab();
  EXPECT_TRUE(Has(lab, R"("name":"r1")") && Has(lab, "destroy failed")) << lab;
  EXPECT_FALSE(Has(lab, R"("name":"r2")")) << "r2 was destroyed";
  EXPECT_TRUE(fs::exists(overlay)) << "a domain still defined keeps its disk";
  hv_->fail_undefine.clear();
  std::string second = Await([&](auto r) { engine_->Destroy("lab1", r); });
  EXPECT_TRUE(Has(second, R"("destroyed":1)")) << second;
  EXPECT_TRUE(hv_->defined.empty());
  EXPECT_TRUE(!engine_->GetLab("lab1").ok());
}

// Issue 19: libvirtd killed under a deploy failed the start in flight there for good. A start
// that fails because libvirtd is gone (Unavailable) is made again at the reconcile pass that
// follows the reconnect; one refused for another reason is not.
TEST_F(LabEngineTest, AStartFailedWhileLibvirtdWasGoneIsMadeAgainAfterTheReconnect) {
  hv_->start_check = [](const std::string& xml) -> Status {
    if (xml.find("-r1-") != std::string::npos) {
      return Unavailable("End of file while reading data: Input/output error");
    }
    return Internal("r2's own failure");
  };
  // Up to 10 s of real time: the overlays are made on the worker pool.
  auto run_until = [&](auto done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (reactor_->RunOnce(/*block=*/false) == 0) ::usleep(1000);
    }
    return done();
  };
  ASSERT_FALSE(Has(DeployJson(R"({"name":"lab1","nodes":[)"
                              R"({"name":"r1","kind":"iosv","image":"base.qcow2"},)"
                              R"({"name":"r2","kind":"iosv","image":"base.qcow2"}]})"),
                   "error"));
  ASSERT_TRUE(run_until([&] {
    return Has(Node("r1"), R"("state":"failed")") && Has(Node("r2"), R"("state":"failed")");
  })) << Node("r1")
      << Node("r2");
  EXPECT_TRUE(Has(Node("r1"), "started again once labvirtd reconnects")) << Node("r1");
  EXPECT_FALSE(Has(Node("r2"), "reconnects")) << Node("r2");
  // libvirtd is back: the reconnect's pass lists both domains (off) with their metadata.
  hv_->start_check = nullptr;
  hv_->list_metadata = true;
  for (const auto& [domain, xml] : hv_->xmls) {
    size_t from = xml.find("<metadata>") + 10;
    hv_->metadata[domain] = xml.substr(from, xml.find("</metadata>") - from);
  }
  int starts = hv_->starts;
  Reconcile();
  ASSERT_TRUE(run_until([&] { return hv_->starts > starts; })) << Node("r1");
  EXPECT_FALSE(Has(Node("r1"), R"("state":"failed")")) << Node("r1");
  EXPECT_TRUE(Has(Node("r2"), R"("state":"failed")")) << "r2 failed for its own reason";
  EXPECT_EQ(hv_->starts, starts + 1) << "r1 started again, r2 not";
}

// The metric names are the protocol's too (Prometheus scrapes them): each family is rendered.
TEST_F(LabEngineTest, MetricsNameEveryFamily) {
  ASSERT_FALSE(Has(Deploy(""), "error"));
  std::string out;
  engine_->RenderMetrics(out);
  for (const char* family :
       {"# TYPE labvirt_console_bytes_total counter", "# TYPE labvirt_console_viewers gauge",
        "labvirt_nodes{state=\"defined\"} 2", "labvirt_admission_queue_length 0",
        "labvirt_admission_in_use 0", "# TYPE labvirt_admission_budget gauge",
        "# TYPE labvirt_boot_seconds histogram", "# TYPE labvirt_readiness_seconds histogram"}) {
    EXPECT_TRUE(Has(out, family)) << family << "\n" << out;
  }
}

}  // namespace
}  // namespace labvirt::engine
