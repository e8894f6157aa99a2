// The CPU ladder in the engine (issue 12): a start the hypervisor refuses for the CPU is redefined
// on the next choice and started again; what worked is cached for the next node. The in-memory
// hypervisor refuses as the KVM machine measured does ("failed to set MSR 0x10a").
#include "tests/unit/engine/lab_engine_fixture.h"

namespace labvirt::engine {
namespace {

// A host like the KVM (PVM) one measured: QEMU aborts on host-passthrough unless
// arch-capabilities is disabled (libvirt: "failed to set MSR 0x10a").
Status RefuseArchCapabilities(const std::string& xml) {
  // host-passthrough renders as mode='maximum' on a host without KVM (TCG).
  bool host_cpu = xml.find("<cpu mode='host-passthrough'") != std::string::npos ||
                  xml.find("<cpu mode='maximum'") != std::string::npos;
  if (!host_cpu || xml.find("name='arch-capabilities'") != std::string::npos) {
    return Status::Ok();
  }
  return Internal(
      "internal error: qemu unexpectedly closed the monitor: 2026-12-03T12:09:23.821019Z "
      "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x400000000c000069\n"
      "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == "
      "cpu->kvm_msr_buf->nmsrs' failed.");
}

class LabEngineCpuTest : public LabEngineTest {
 protected:
  std::string DeployRunning(const std::string& lab) {
    std::string json =
        R"({"name":")" + lab + R"(","nodes":[{"name":"r1","kind":"iosv","image":"base.qcow2"}]})";
    auto doc = parser_.parse(json);
    auto spec = ParseLabSpec(doc.value());
    return Await([&](LabEngine::Reply r) {
      engine_->Deploy((std::move(spec)).value(), false, std::move(r));
    });
  }
  std::string NodeOf(const std::string& lab) {
    auto r = engine_->GetNode(lab, "r1");
    return r.ok() ? r.value() : "error";
  }
  // Runs the loop until `done` holds (or a generous number of passes went by).
  template <typename Pred>
  bool RunUntil(Pred done) {
    for (int i = 0; i < 100000 && !done(); ++i) reactor_->RunOnce(/*block=*/true);
    return done();
  }
};

TEST_F(LabEngineCpuTest, RefusedCpuFallsBackRecordsWhyAndIsCachedForTheNextNode) {
  hv_->start_check = RefuseArchCapabilities;
  ASSERT_FALSE(Has(DeployRunning("lab1"), "error"));
  ASSERT_TRUE(RunUntil([&] {
    return hv_->starts >= 2 && Has(NodeOf("lab1"), "host-passthrough -arch-capabilities");
  })) << NodeOf("lab1");
  for (int i = 0; i < 50; ++i) reactor_->RunOnce(/*block=*/false);  // room for a wrong retry
  std::string node = NodeOf("lab1");
  EXPECT_FALSE(Has(node, R"("state":"failed")")) << node;
  EXPECT_TRUE(Has(node, "failed to set MSR 0x10a")) << "the refused choice and why: " << node;
  EXPECT_EQ(hv_->starts, 2);
  bool cpu_event = false;
  for (const auto& ev : events_) cpu_event |= ev.type == "node.cpu" && ev.node == "r1";
  EXPECT_TRUE(cpu_event);
  // The redefinition carries the working CPU, and the metadata says why.
  const std::string& xml = hv_->xmls.begin()->second;
  EXPECT_TRUE(Has(xml, "<feature policy='disable' name='arch-capabilities'/>")) << xml;
  EXPECT_TRUE(Has(xml, "<labvirt:cpu mode='host-passthrough'")) << xml;

  // A node deployed later starts right the first time.
  ASSERT_FALSE(Has(DeployRunning("lab2"), "error"));
  ASSERT_TRUE(RunUntil([&] { return hv_->starts >= 3 && Has(NodeOf("lab2"), "cached"); }))
      << NodeOf("lab2");
  for (int i = 0; i < 50; ++i) reactor_->RunOnce(/*block=*/false);  // room for a wrong retry
  EXPECT_EQ(hv_->starts, 3) << NodeOf("lab2");
  EXPECT_TRUE(Has(NodeOf("lab2"), R"("cpu_attempts":[])")) << NodeOf("lab2");
  EXPECT_TRUE(fs::exists(dir_ / "state/cpu-choices.json"));
}

TEST_F(LabEngineCpuTest, EveryCpuRefusedFailsWithEveryAttemptInTheReason) {
  hv_->start_check = [](const std::string&) {
    return Internal("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x1");
  };
  ASSERT_FALSE(Has(DeployRunning("lab1"), "error"));
  ASSERT_TRUE(RunUntil([&] { return Has(NodeOf("lab1"), R"("state":"failed")"); }))
      << NodeOf("lab1");
  std::string node = NodeOf("lab1");
  EXPECT_TRUE(Has(node, "CPU choices tried: host-passthrough: failed to set MSR 0x10a")) << node;
  EXPECT_TRUE(Has(node, "host-passthrough -arch-capabilities: failed to set MSR")) << node;
  EXPECT_TRUE(Has(node, "host-model -arch-capabilities: failed to set MSR")) << node;
  EXPECT_TRUE(Has(node, "custom qemu64 -arch-capabilities check=none]")) << node;
  EXPECT_EQ(hv_->starts, 4) << "kind, without the feature, host-model, fallback model";
  EXPECT_FALSE(fs::exists(dir_ / "state/cpu-choices.json")) << "nothing worked: nothing cached";
}

// libvirt 9.0 kills the retry with the refused attempt's late monitor EOF (seen in CI on a
// PVM-KVM host): the same CPU is tried again, and the node comes up.
TEST_F(LabEngineCpuTest, AStartKilledByLibvirtdIsTriedAgainOnTheSameCpu) {
  int calls = 0;
  hv_->start_check = [&calls](const std::string& xml) {
    if (++calls == 2) {
      return Internal(
          "internal error: qemu unexpectedly closed the monitor: 2026-12-03T14:49:22.822188Z "
          "qemu-system-x86_64: terminating on signal 15 from pid 17119 (libvirtd)");
    }
    return RefuseArchCapabilities(xml);
  };
  ASSERT_FALSE(Has(DeployRunning("lab1"), "error"));
  ASSERT_TRUE(RunUntil([&] { return hv_->starts >= 3; })) << NodeOf("lab1");
  for (int i = 0; i < 50; ++i) reactor_->RunOnce(/*block=*/false);  // room for a wrong retry
  std::string node = NodeOf("lab1");
  EXPECT_FALSE(Has(node, R"("state":"failed")")) << node;
  EXPECT_EQ(hv_->starts, 3) << "refused, killed, started: " << node;
  EXPECT_TRUE(Has(node, R"("mode":"host-passthrough")")) << node;
}

TEST_F(LabEngineCpuTest, AStartKilledByLibvirtdEveryTimeFailsAfterTwoMoreTries) {
  hv_->start_check = [](const std::string&) {
    return Internal("qemu-system-x86_64: terminating on signal 15 from pid 9 (libvirtd)");
  };
  ASSERT_FALSE(Has(DeployRunning("lab1"), "error"));
  ASSERT_TRUE(RunUntil([&] { return Has(NodeOf("lab1"), R"("state":"failed")"); }));
  EXPECT_EQ(hv_->starts, 3);
  EXPECT_TRUE(Has(NodeOf("lab1"), "terminating on signal 15")) << NodeOf("lab1");
}

TEST_F(LabEngineCpuTest, AStartErrorThatIsNotTheCpusFailsAtOnce) {
  hv_->start_check = [](const std::string&) {
    return Internal("Cannot access storage file '/x.qcow2': No such file or directory");
  };
  ASSERT_FALSE(Has(DeployRunning("lab1"), "error"));
  ASSERT_TRUE(RunUntil([&] { return Has(NodeOf("lab1"), R"("state":"failed")"); }));
  EXPECT_EQ(hv_->starts, 1);
  EXPECT_TRUE(Has(NodeOf("lab1"), "Cannot access storage file")) << NodeOf("lab1");
}

}  // namespace
}  // namespace labvirt::engine
