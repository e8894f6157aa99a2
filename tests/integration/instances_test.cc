// Two real labvirtds on one host (issue 13): each is its own instance (one derived from its state
// dir, one named with --instance), both on libvirt's shared test driver through the host's
// libvirtd (test+unix:///default: every connection sees the same domains while one holds it, as
// two daemons on qemu:///system would), each with a lab of its own. Each daemon is restarted; it
// must adopt its own lab, leave the other's alone, report the other's domain as foreign, and
// refuse the other's lab name. No VM is started (nodes are deployed with start: false).
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/daemon_process.h"
#include "tests/support/prereq.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

namespace fs = std::filesystem;

const std::string kDir = "/tmp/lvtest-h13inst-" + std::to_string(::getpid());
const char kUri[] = "test+unix:///default";

struct Daemon {
  std::string name, socket;
  std::unique_ptr<testing::DaemonProcess> process;
};

std::vector<std::string> Args(const std::string& name, const std::string& extra_flag,
                              const std::string& extra_value) {
  std::vector<std::string> args = {"--socket",      kDir + "/" + name + ".sock",
                                   "--libvirt-uri", kUri,
                                   "--image-root",  kDir + "/img",
                                   "--state-dir",   kDir + "/" + name + "/state",
                                   "--workers",     "2"};
  if (!extra_flag.empty()) args.insert(args.end(), {extra_flag, extra_value});
  return args;
}

std::string Lab(const std::string& lab) {
  return R"({"lab":")" + lab +
         R"(","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2","start":false}]})";
}

class InstancesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::create_directories(kDir + "/img");
    have_image_ =
        std::system(("qemu-img create -q -f qcow2 " + kDir + "/img/base.qcow2 1M").c_str()) == 0;
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    // Holds the shared test driver for the whole suite: it lives while a connection uses it, and
    // the daemons' restarts must not take their domains away.
    conn_ = virConnectOpen(kUri);
  }
  static void TearDownTestSuite() {
    if (conn_ != nullptr) virConnectClose(conn_);
    std::error_code ec;
    fs::remove_all(kDir, ec);
  }
  void SetUp() override {
    LABVIRT_REQUIRE(have_image_, "qemu-img");
    LABVIRT_REQUIRE(conn_ != nullptr, "libvirtd answering test+unix:///default");
  }
  void TearDown() override {
    for (Daemon* d : {&a_, &b_}) {
      if (d->process == nullptr) continue;
      if (HasFailure()) {
        std::string log = d->process->Log();
        std::cerr << "--- labvirtd " << d->name << " log (end) ---\n"
                  << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
      }
      d->process.reset();
    }
  }

  static void Start(Daemon& d, const std::string& flag = "", const std::string& value = "") {
    d.socket = kDir + "/" + d.name + ".sock";
    d.process = std::make_unique<testing::DaemonProcess>(testing::DaemonProcess::Options{
        .args = Args(d.name, flag, value), .log_path = kDir + "/" + d.name + ".log"});
    ASSERT_TRUE(testing::WaitHealthy(d.socket)) << d.name << " not healthy";
  }
  static std::string Call(const Daemon& d, const std::string& method, const std::string& params) {
    auto c = ctl::Client::Connect(d.socket);
    if (!c.ok()) return "connect failed: " + c.status().message();
    auto r = c->Call(method, params);
    return r.ok() ? *r : "call failed: " + r.status().message();
  }
  // Names of the labs `d` has, from lab.list.
  std::vector<std::string> Labs(const Daemon& d) {
    std::vector<std::string> out;
    std::string answer = Call(d, "lab.list", "{}");
    simdjson::dom::element doc;
    if (parser_.parse(answer).get(doc)) return {"unparsable: " + answer};
    for (auto l : doc["result"].get_array()) out.emplace_back(l["name"].get_string().value());
    return out;
  }
  std::string Instance(const Daemon& d) {
    simdjson::dom::element doc;
    std::string answer = Call(d, "host.info", "{}");
    if (parser_.parse(answer).get(doc)) return "unparsable: " + answer;
    std::string_view s;
    return doc["result"]["instance"].get(s) ? "none: " + answer : std::string(s);
  }
  // The labvirt metadata of every domain of lab `lab` on the shared driver.
  static std::vector<std::string> Metadata(const std::string& lab) {
    std::vector<std::string> out;
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_, &doms, 0);
    for (int i = 0; i < n; ++i) {
      std::string name = virDomainGetName(doms[i]);
      if (name.rfind("lv-" + lab + "-", 0) == 0) {
        char* md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                        "https://labvirt.dev/xmlns/node/1", 0);
        out.emplace_back(md ? md : "");
        free(md);
      }
      virDomainFree(doms[i]);
    }
    free(doms);
    return out;
  }

  static inline virConnectPtr conn_ = nullptr;
  static inline bool have_image_ = false;
  Daemon a_{"a", "", nullptr};
  Daemon b_{"b", "", nullptr};
  simdjson::dom::parser parser_;
};

TEST_F(InstancesTest, TwoDaemonsEachRestartedNeitherTouchesTheOthersLab) {
  const std::string lab_a = "h13-inst-a", lab_b = "h13-inst-b";
  Start(a_);                         // instance derived from its state dir
  Start(b_, "--instance", "h13-b");  // instance named
  const std::string inst_a = Instance(a_);
  EXPECT_EQ(inst_a.rfind("sd-", 0), 0u) << inst_a;
  EXPECT_EQ(Instance(b_), "h13-b");

  ASSERT_NE(Call(a_, "lab.deploy", Lab(lab_a)).find("\"result\""), std::string::npos);
  ASSERT_NE(Call(b_, "lab.deploy", Lab(lab_b)).find("\"result\""), std::string::npos);
  auto md_a = Metadata(lab_a), md_b = Metadata(lab_b);
  ASSERT_EQ(md_a.size(), 1u);
  ASSERT_EQ(md_b.size(), 1u);
  EXPECT_NE(md_a[0].find(">" + inst_a + "</"), std::string::npos) << md_a[0];
  EXPECT_NE(md_b[0].find(">h13-b</"), std::string::npos) << md_b[0];

  // Each restarted in turn (the other keeps running): each adopts its own lab and only that.
  for (Daemon* d : {&a_, &b_}) {
    d->process.reset();
    if (d == &a_) {
      Start(a_);
    } else {
      Start(b_, "--instance", "h13-b");
    }
    EXPECT_EQ(Labs(a_), std::vector<std::string>{lab_a}) << "after restarting " << d->name;
    EXPECT_EQ(Labs(b_), std::vector<std::string>{lab_b}) << "after restarting " << d->name;
  }
  std::string node = Call(a_, "node.get", R"({"lab":")" + lab_a + R"(","node":"r1"})");
  EXPECT_NE(node.find(R"("state":"defined")"), std::string::npos) << node;
  EXPECT_EQ(Metadata(lab_a), md_a) << "b left a's domain as it was";
  EXPECT_EQ(Metadata(lab_b), md_b) << "a left b's domain as it was";

  // The other's domain is foreign to cleanup, not a leftover; its lab name is not free.
  std::string cleanup = Call(a_, "lab.cleanup", R"({"dry_run":true})");
  EXPECT_NE(cleanup.find(R"("domains":[])"), std::string::npos) << cleanup;
  EXPECT_NE(cleanup.find(R"("instance":"h13-b")"), std::string::npos) << cleanup;
  std::string taken = Call(a_, "lab.deploy", Lab(lab_b));
  EXPECT_NE(taken.find(R"("field":"lab")"), std::string::npos) << taken;
  EXPECT_NE(taken.find("instance 'h13-b'"), std::string::npos) << taken;

  EXPECT_NE(Call(a_, "lab.destroy", R"({"lab":")" + lab_a + R"("})").find(R"("destroyed":1)"),
            std::string::npos);
  EXPECT_EQ(Metadata(lab_b).size(), 1u) << "a's destroy left b's node";
  EXPECT_NE(Call(b_, "lab.destroy", R"({"lab":")" + lab_b + R"("})").find(R"("destroyed":1)"),
            std::string::npos);
  EXPECT_TRUE(Metadata(lab_a).empty());
  EXPECT_TRUE(Metadata(lab_b).empty());
}

}  // namespace
}  // namespace labvirt
