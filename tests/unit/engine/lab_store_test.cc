// LabStore's lookup of a node by its libvirt domain (issue 20: every domain event looked its node
// up by scanning every node of every lab; now an index, kept as nodes join and leave labs).
#include "engine/lab/lab_store.h"

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

class LabStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor::ReactorOptions ro;
    ro.clock = &clock_;
    reactor_ = std::move(reactor::Reactor::Create(ro)).value();
    store_ = std::make_unique<LabStore>(*reactor_, options_);
  }
  // Puts node `name` of lab `lab` with domain `domain` into the store and indexes it, as a
  // deploy or a reconcile does.
  Node* Add(const std::string& lab, const std::string& name, const std::string& domain) {
    auto& l = store_->labs[lab];
    if (!l) {
      l = std::make_unique<Lab>();
      l->name = lab;
    }
    auto n = std::make_unique<Node>();
    n->lab = lab;
    n->name = name;
    n->key = NodeKey(lab, name);
    n->domain = domain;
    Node* raw = n.get();
    l->nodes[name] = std::move(n);
    store_->IndexDomain(*raw);
    return raw;
  }

  reactor::ManualClock clock_;
  std::unique_ptr<reactor::Reactor> reactor_;
  EngineOptions options_;
  std::unique_ptr<LabStore> store_;
};

TEST_F(LabStoreTest, FindsEveryNodeByItsDomainAmongManyLabs) {
  std::vector<Node*> nodes;
  for (int l = 0; l < 20; ++l) {
    for (int n = 0; n < 50; ++n) {
      std::string lab = "lab" + std::to_string(l), node = "n" + std::to_string(n);
      nodes.push_back(Add(lab, node, "lv-" + lab + "-" + node + "-0000"));
    }
  }
  for (Node* n : nodes) EXPECT_EQ(store_->FindNodeByDomain(n->domain), n) << n->domain;
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab0-n0-ffff"), nullptr) << "not ours";
  EXPECT_EQ(store_->FindNodeByDomain(""), nullptr) << "a node without a domain is not found";
}

TEST_F(LabStoreTest, ANodeThatLeftItsLabIsNotFoundByItsDomain) {
  Node* a = Add("lab", "a", "lv-lab-a-1");
  Add("lab", "b", "lv-lab-b-1");
  store_->ForgetDomain(*a);
  store_->labs["lab"]->nodes.erase("a");
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab-a-1"), nullptr);
  ASSERT_NE(store_->FindNodeByDomain("lv-lab-b-1"), nullptr);
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab-b-1")->name, "b");
}

TEST_F(LabStoreTest, AnEntryLeftBehindNeverFindsAnotherDomainsNode) {
  // The lab is destroyed without forgetting (a path that missed it), then deployed again: the
  // node of the same name has a new domain, and the old domain's events are not its.
  Add("lab", "a", "lv-lab-a-1");
  store_->labs.erase("lab");
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab-a-1"), nullptr);
  Node* again = Add("lab", "a", "lv-lab-a-2");
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab-a-1"), nullptr);
  EXPECT_EQ(store_->FindNodeByDomain("lv-lab-a-2"), again);
}

TEST_F(LabStoreTest, ForgettingAnotherNodesOldEntryKeepsTheCurrentOne) {
  // Node b of an earlier lab had the domain name node a has now (a rename on the host):
  // forgetting b must not drop a's entry.
  Node* a = Add("lab", "a", "lv-shared");
  Node b;
  b.key = NodeKey("old", "b");
  b.domain = "lv-shared";
  store_->ForgetDomain(b);
  EXPECT_EQ(store_->FindNodeByDomain("lv-shared"), a);
}

}  // namespace
}  // namespace labvirt::engine
