// BuildDomain: the domain XML a node's spec renders to (CPU, firmware, NICs, MACs, escaping, every
// shipped kind). Reading labvirt's metadata back is domain_metadata_test.cc.
#include "providers/domain_xml.h"

#include <functional>
#include <tuple>

#include "engine/catalog/catalog.h"
#include "gtest/gtest.h"
#include "providers/node_naming.h"
#include "tests/unit/providers/domain_spec_fixture.h"

namespace labvirt::providers {
namespace {

using testing::Has;
using testing::Kind;
using testing::Spec;

TEST(DomainXmlTest, BuildsDefaultDomain) {
  auto d = BuildDomain(Spec());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const std::string& x = d->xml;
  EXPECT_EQ(d->name, "lv-lab1-r1-" + NodeTag("lab1", "r1"));
  EXPECT_TRUE(Has(x, "<domain type='kvm'>"));
  EXPECT_TRUE(Has(x, "<on_crash>destroy</on_crash>"));
  EXPECT_TRUE(Has(x, "<on_reboot>restart</on_reboot>"));
  EXPECT_TRUE(Has(x, "<on_poweroff>destroy</on_poweroff>"));
  EXPECT_TRUE(Has(x, "cache='none' io='native'"));
  EXPECT_TRUE(Has(x, "<source file='/var/lib/labvirt/disks/lab1/r1.qcow2'/>"));
  EXPECT_TRUE(Has(x, "<log file='/var/lib/labvirt/logs/lab1/r1.console.log' append='on'/>"));
  EXPECT_TRUE(Has(x, "<interface type='ethernet'>"));
  // Boots from disk without option ROMs or a boot menu to wait through.
  EXPECT_TRUE(Has(x, "<rom enabled='no'/>"));
  size_t roms = 0;
  for (size_t at = x.find("<rom enabled='no'/>"); at != std::string::npos;
       at = x.find("<rom enabled='no'/>", at + 1)) {
    ++roms;
  }
  EXPECT_EQ(roms, 2u) << "one per NIC: " << x;
  EXPECT_TRUE(Has(x, "<bootmenu enable='no'/>"));
  EXPECT_FALSE(Has(x, "managed="));
  EXPECT_TRUE(Has(x, "<target dev='" + DataTapName(NodeTag("lab1", "r1"), 1) + "'/>"));
  EXPECT_TRUE(Has(x, "xmlns:labvirt='https://labvirt.dev/xmlns/node/1'"));
  ASSERT_EQ(d->metadata.nics.size(), 2u);
  EXPECT_NE(d->metadata.nics[0].mac, d->metadata.nics[1].mac);
}

TEST(DomainXmlTest, TcgTurnsHostPassthroughIntoMaximum) {
  DomainSpec s = Spec();
  s.kind.cpu.mode = "host-passthrough";
  s.domain_type = "qemu";
  auto x = BuildDomainXml(s);
  ASSERT_TRUE(x.ok());
  EXPECT_TRUE(Has(*x, "<domain type='qemu'>"));
  EXPECT_TRUE(Has(*x, "<cpu mode='maximum'"));
  s.domain_type = "kvm";
  EXPECT_TRUE(Has(*BuildDomainXml(s), "<cpu mode='host-passthrough' migratable='off'>"));
  s.domain_type = "xen";
  EXPECT_FALSE(BuildDomainXml(s).ok());
}

TEST(DomainXmlTest, ACpuChoiceRendersAndRoundTripsThroughTheMetadata) {
  DomainSpec s = Spec();
  CpuChoice c;
  c.mode = "custom";
  c.model = "qemu64";
  c.required_features = {"sse4.2"};
  c.disabled_features = {"arch-capabilities", "svm"};
  c.pmu_off = true;
  c.check_none = true;
  c.extra_steps = 2;
  c.reason = "after host-model failed: <failed to set MSR 0x10a> & more";
  s.cpu = c;
  s.uuid = "7b89dd09-c2f5-4ee0-8949-d13ddea3acdc";
  s.emulator = "/usr/local/bin/qemu-wrapper";
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(Has(d->xml, "<cpu mode='custom' match='exact' check='none'>")) << d->xml;
  EXPECT_TRUE(Has(d->xml, "<model fallback='allow'>qemu64</model>"));
  EXPECT_TRUE(Has(d->xml, "<feature policy='require' name='sse4.2'/>"));
  EXPECT_TRUE(Has(d->xml, "<feature policy='disable' name='svm'/>"));
  EXPECT_TRUE(Has(d->xml, "<pmu state='off'/>"));
  EXPECT_TRUE(Has(d->xml, "<uuid>7b89dd09-c2f5-4ee0-8949-d13ddea3acdc</uuid>"));
  EXPECT_TRUE(Has(d->xml, "<emulator>/usr/local/bin/qemu-wrapper</emulator>"));
  EXPECT_EQ(DomainUuid(d->xml), "7b89dd09-c2f5-4ee0-8949-d13ddea3acdc");

  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  ASSERT_TRUE(md->cpu.has_value());
  EXPECT_TRUE(*md->cpu == c) << DescribeCpu(*md->cpu);
  EXPECT_EQ(md->cpu->reason, c.reason);
  EXPECT_EQ(md->cpu->extra_steps, 2);

  s.uuid = "not a uuid";
  EXPECT_FALSE(BuildDomain(s).ok());
  s.uuid.clear();
  s.emulator = "relative/qemu";
  EXPECT_FALSE(BuildDomain(s).ok());
}

TEST(DomainXmlTest, WithoutAChoiceTheKindsCpuIsUsed) {
  DomainSpec s = Spec();
  s.kind.cpu.mode = "host-model";
  s.kind.cpu.disabled_features = {"smep"};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(Has(d->xml, "<cpu mode='host-model'>"));
  EXPECT_TRUE(Has(d->xml, "<feature policy='disable' name='smep'/>"));
  EXPECT_FALSE(Has(d->xml, "<pmu"));
  EXPECT_FALSE(Has(d->xml, "<uuid>"));
  ASSERT_TRUE(d->metadata.cpu.has_value());
  EXPECT_EQ(DescribeCpu(*d->metadata.cpu), "host-model -smep");
}

TEST(DomainXmlTest, FirmwareVariants) {
  DomainSpec s = Spec();
  s.kind.firmware = Firmware::kUefiStateless;
  auto x = *BuildDomainXml(s);
  EXPECT_TRUE(Has(x,
                  "<loader readonly='yes' type='pflash' "
                  "stateless='yes'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>"));
  EXPECT_FALSE(Has(x, "<nvram"));
  s.kind.firmware = Firmware::kUefiStateful;
  x = *BuildDomainXml(s);
  EXPECT_TRUE(Has(
      x,
      "<nvram "
      "template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/labvirt/nvram/lab1/r1_VARS.fd</nvram>"));
  EXPECT_TRUE(Has(x, "<smm state='off'/>"));
}

TEST(DomainXmlTest, ManagementAndReservedNicsComeFirst) {
  DomainSpec s = Spec();
  s.kind.management_nic = true;
  s.kind.management_interface = "mgmt0";
  s.kind.reserved_nics = 2;
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->metadata.nics.size(), 5u);
  EXPECT_EQ(d->metadata.nics[0].role, NicRole::kManagement);
  EXPECT_EQ(d->metadata.nics[0].tap, ManagementTapName(s.tag));
  EXPECT_EQ(d->metadata.nics[1].tap, ReservedTapName(s.tag, 0));
  EXPECT_EQ(d->metadata.nics[3].interface, "Gi0/0");
  EXPECT_LT(d->xml.find(ManagementTapName(s.tag)), d->xml.find(ReservedTapName(s.tag, 0)));
  s.management_network = "default";
  d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(Has(d->xml, "<source network='default'/>"));
  EXPECT_EQ(d->metadata.nics[0].tap, "");
}

TEST(DomainXmlTest, MemorySharingOptOutRendersNoSharePages) {
  auto shared = BuildDomain(Spec());
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_FALSE(Has(shared->xml, "memoryBacking"));
  DomainSpec s = Spec();
  s.kind.memory_sharing = false;
  auto unshared = BuildDomain(s);
  ASSERT_TRUE(unshared.ok()) << unshared.status().ToString();
  EXPECT_TRUE(Has(unshared->xml, "<memoryBacking><nosharepages/></memoryBacking>"));
}

TEST(DomainXmlTest, LinksMapToNicsAndGrowTheCount) {
  DomainSpec s = Spec();
  s.links = {{"Gi0/5", "L1"}, {"gi0/0", "L2"}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->metadata.nics.size(), 6u);
  EXPECT_EQ(d->metadata.nics[5].link, "L1");
  EXPECT_EQ(d->metadata.nics[0].link, "L2");
  EXPECT_EQ(d->metadata.nics[1].link, "");
}

TEST(DomainXmlTest, RefusesBadSpecsWithOneClearError) {
  struct Case {
    std::function<void(DomainSpec&)> mutate;
    std::string expect;
  };
  std::vector<Case> cases = {
      {[](DomainSpec& s) { s.node = "r1'/><evil"; }, "node name"},
      {[](DomainSpec& s) { s.lab = std::string(64, 'l'); }, "lab name"},
      {[](DomainSpec& s) { s.tag = "XYZ"; }, "tag"},
      {[](DomainSpec& s) { s.overlay_path = "disk.qcow2"; }, "overlay_path"},
      {[](DomainSpec& s) { s.state_dir = "/x\n"; }, "state_dir"},
      {[](DomainSpec& s) { s.nics = 9; }, "nics: 9 is more than test's maximum of 8"},
      {[](DomainSpec& s) {
         s.links = {{"Gi0/1", "A"}, {"GI0/1", "B"}};
       },
       "duplicate NIC: interface Gi0/1 is used by link 'A' and link 'B'"},
      {[](DomainSpec& s) {
         s.links = {{"Gi0/8", "A"}};
       },
       "link 'A'"},
      {[](DomainSpec& s) {
         s.links = {{"eth0", "A"}};
       },
       "not a test interface name"},
      {[](DomainSpec& s) { s.kind.serials.push_back({"tcp"}); }, "tcp_serial_ports"},
      {[](DomainSpec& s) { s.mtu = 10; }, "mtu"},
  };
  for (const auto& c : cases) {
    DomainSpec s = Spec();
    c.mutate(s);
    auto d = BuildDomain(s);
    ASSERT_FALSE(d.ok()) << c.expect;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find(c.expect), std::string::npos) << d.status().message();
  }
}

TEST(DomainXmlTest, MacsAvoidHostMacsAndKeepFixedOnes) {
  DomainSpec s = Spec();
  auto first = BuildDomain(s);
  ASSERT_TRUE(first.ok());
  std::string taken = first->metadata.nics[0].mac;
  s.macs_in_use = {taken};
  auto second = BuildDomain(s);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->metadata.nics[0].mac, taken);
  s.fixed_macs = {{"0", "52:54:00:AA:BB:CC"}};
  auto third = BuildDomain(s);
  EXPECT_EQ(third->metadata.nics[0].mac, "52:54:00:aa:bb:cc");
}

TEST(DomainXmlTest, EscaperHandlesHostileText) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape("x\x01y"), "x\xef\xbf\xbdy");
  EXPECT_EQ(XmlEscape("\t\n\r"), "\t\n\r");
  EXPECT_EQ(XmlEscape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(XmlEscape("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(XmlEscape("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong '/'
  EXPECT_EQ(XmlEscape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(XmlEscape("]]>"), "]]&gt;");
}

TEST(DomainXmlTest, EveryShippedKindBuilds) {
  auto c = engine::LoadCatalog(engine::SourceCatalogPath());
  ASSERT_TRUE(c.ok());
  for (const auto& k : c->kinds()) {
    DomainSpec s = Spec();
    s.kind = k;
    s.kind_name = k.name;
    s.nics = k.max_nics;
    auto d = BuildDomain(s);
    ASSERT_TRUE(d.ok()) << k.name << ": " << d.status().ToString();
    std::set<std::string> macs, taps;
    for (const auto& n : d->metadata.nics) {
      EXPECT_TRUE(macs.insert(n.mac).second) << k.name;
      if (!n.tap.empty()) {
        EXPECT_TRUE(taps.insert(n.tap).second) << k.name;
        EXPECT_LE(n.tap.size(), kMaxTapNameLength);
      }
    }
    EXPECT_EQ(d->metadata.nics.size(),
              static_cast<size_t>(k.max_nics + k.reserved_nics + (k.management_nic ? 1 : 0)));
  }
}

TEST(DomainXmlTest, NicXmlIsTheSameInterfaceElementAsInTheDomain) {
  auto built = BuildDomain(Spec());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const NicMetadata& nic = built->metadata.nics.back();
  std::string one = RenderNicXml(Spec(), nic);
  EXPECT_TRUE(Has(one, "<mac address='" + nic.mac + "'/>")) << one;
  EXPECT_TRUE(Has(one, "<target dev='" + nic.tap + "'/>")) << one;
  EXPECT_EQ(one.find("<interface"), one.rfind("<interface")) << "exactly one element: " << one;
  EXPECT_TRUE(Has(built->xml, one)) << "the domain holds the same element";
}

}  // namespace
}  // namespace labvirt::providers
