// The fixture of the OvsSwitch integration tests: a private ovsdb-server (tests/support), a reactor
// and labvirt's OVS stack on bridge "lvtest", re-created at will as a labvirt restart.
#ifndef LABVIRT_TESTS_INTEGRATION_OVS_SWITCH_FIXTURE_H_
#define LABVIRT_TESTS_INTEGRATION_OVS_SWITCH_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/ovs_harness.h"
#include "tests/support/prereq.h"

namespace labvirt::ovs {

using testing::Await;
using testing::PrivateOvsdb;
using testing::RunUntil;
using testing::Stack;

class OvsSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LABVIRT_REQUIRE(testing::HaveCommand("ovsdb-server") && testing::HaveCommand("ovsdb-tool") &&
                        testing::HaveCommand("ovs-vsctl"),
                    "ovsdb-server, ovsdb-tool and ovs-vsctl (openvswitch-switch)");
    db_ = std::make_unique<PrivateOvsdb>();
    ASSERT_TRUE(db_->created());
    ASSERT_TRUE(db_->Start());
    reactor_ = std::move(reactor::Reactor::Create().value());
  }
  void TearDown() override {
    stack_.reset();
    reactor_.reset();
    db_.reset();
  }
  void NewStack(OvsSwitchOptions o = {}) {
    o.bridge = "lvtest";
    o.netdev = true;
    stack_.reset();
    stack_ = std::make_unique<Stack>(*reactor_, db_->remote(), o);
    ASSERT_TRUE(RunUntil(*reactor_, [&] { return stack_->replica->synced(); }));
  }
  Status Run(const std::function<void(OvsSwitch::Callback)>& op) { return Await(*reactor_, op); }
  OvsSwitch& sw() { return *stack_->sw; }
  std::string Get(const std::string& what) { return db_->Vsctl("get " + what); }
  std::vector<NicPort> Nics(const std::string& lab, const std::string& node, int n) {
    std::vector<NicPort> v;
    for (int i = 0; i < n; ++i)
      v.push_back({lab + node + "e" + std::to_string(i), lab, node, i, ""});
    return v;
  }

  std::unique_ptr<PrivateOvsdb> db_;
  std::unique_ptr<reactor::Reactor> reactor_;
  std::unique_ptr<Stack> stack_;
};

}  // namespace labvirt::ovs

#endif  // LABVIRT_TESTS_INTEGRATION_OVS_SWITCH_FIXTURE_H_
