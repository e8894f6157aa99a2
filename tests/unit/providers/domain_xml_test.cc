#include "providers/domain_xml.h"

#include <functional>
#include <tuple>

#include "engine/catalog/catalog.h"
#include "gtest/gtest.h"
#include "providers/node_naming.h"

namespace labvirt::providers {
namespace {

DeviceKind Kind() {
  DeviceKind k;
  k.name = "test";
  k.vendor = "V";
  k.interface_prefix = "Gi0/";
  k.max_nics = 8;
  k.default_nics = 2;
  k.readiness.success = {"login:"};
  return k;
}

DomainSpec Spec() {
  DomainSpec s;
  s.lab = "lab1";
  s.node = "r1";
  s.kind = Kind();
  s.kind_name = "test";
  s.tag = NodeTag("lab1", "r1");
  s.overlay_path = "/var/lib/labvirt/disks/lab1/r1.qcow2";
  s.state_dir = "/var/lib/labvirt";
  s.image = "iosv.qcow2";
  return s;
}

bool Has(const std::string& xml, const std::string& part) {
  return xml.find(part) != std::string::npos;
}

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

TEST(DomainXmlTest, HostileMetadataTextRoundTrips) {
  DomainSpec s = Spec();
  s.image = "a'b\"c<d>&e";
  s.readiness_detail = "</labvirt:readiness><x>";
  s.overrides_json = R"({"memory_mb": 4096, "q": "\"<&>"})";
  s.links = {{"Gi0/1", "l<1>&'\""}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->image, s.image);
  EXPECT_EQ(md->readiness_detail, s.readiness_detail);
  EXPECT_EQ(md->overrides_json, s.overrides_json);
  EXPECT_EQ(md->nics[1].link, "l<1>&'\"");
}

TEST(DomainXmlTest, MetadataRoundTrip) {
  DomainSpec s = Spec();
  s.kind.management_nic = true;
  s.kind.management_interface = "mgmt0";
  s.kind.reserved_nics = 1;
  s.links = {{"Gi0/1", "L7"}};
  s.desired_state = "stopped";
  s.readiness = "ready";
  s.readiness_detail = "matched login:";
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->lab, "lab1");
  EXPECT_EQ(md->node, "r1");
  EXPECT_EQ(md->kind, "test");
  EXPECT_EQ(md->tag, s.tag);
  EXPECT_EQ(md->image, "iosv.qcow2");
  EXPECT_EQ(md->desired_state, "stopped");
  EXPECT_EQ(md->readiness, "ready");
  EXPECT_EQ(md->readiness_detail, "matched login:");
  ASSERT_EQ(md->nics.size(), d->metadata.nics.size());
  for (size_t i = 0; i < md->nics.size(); ++i) {
    EXPECT_EQ(md->nics[i].role, d->metadata.nics[i].role);
    EXPECT_EQ(md->nics[i].index, d->metadata.nics[i].index);
    EXPECT_EQ(md->nics[i].tap, d->metadata.nics[i].tap);
    EXPECT_EQ(md->nics[i].mac, d->metadata.nics[i].mac);
    EXPECT_EQ(md->nics[i].link, d->metadata.nics[i].link);
    EXPECT_EQ(md->nics[i].interface, d->metadata.nics[i].interface);
  }
  // As libvirt returns it: another prefix for the same namespace still parses.
  std::string relabelled = d->xml;
  for (size_t p; (p = relabelled.find("labvirt:")) != std::string::npos;)
    relabelled.replace(p, 8, "lv:");
  for (size_t p; (p = relabelled.find("xmlns:labvirt")) != std::string::npos;)
    relabelled.replace(p, 13, "xmlns:lv");
  auto md2 = ParseNodeMetadata(relabelled);
  ASSERT_TRUE(md2.ok()) << md2.status().ToString();
  EXPECT_EQ(md2->node, "r1");
}

// Issue 13: a node's metadata names the labvirt instance that owns it; metadata written before
// instances (no <instance>) belongs to the default instance.
TEST(DomainXmlTest, InstanceRoundTripsAndOldMetadataIsTheDefaultInstance) {
  DomainSpec s = Spec();
  s.instance = "lab-b";
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(Has(d->xml, "<labvirt:instance>lab-b</labvirt:instance>")) << d->xml;
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->instance, "lab-b");

  std::string old = RenderNodeMetadata(d->metadata);
  const std::string end_tag = "</labvirt:instance>";
  size_t from = old.find("<labvirt:instance>");
  ASSERT_NE(from, std::string::npos) << old;
  old.erase(from, old.find(end_tag) + end_tag.size() - from);
  ASSERT_FALSE(Has(old, "instance")) << old;
  auto legacy = ParseNodeMetadata("<domain><metadata>" + old + "</metadata></domain>");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->instance, kDefaultInstance);

  std::string hostile = RenderNodeMetadata(d->metadata);
  hostile.replace(hostile.find(">lab-b<"), 7, ">a b<");
  EXPECT_FALSE(ParseNodeMetadata("<domain><metadata>" + hostile + "</metadata></domain>").ok());
  s.instance = "x/y";
  EXPECT_FALSE(BuildDomain(s).ok());
}

TEST(DomainXmlTest, LinkCarrierDownRoundTripsAndBadStateIsRefused) {
  DomainSpec s = Spec();
  s.links = {{"Gi0/1", "L7"}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  NodeMetadata meta = d->metadata;
  meta.nics[1].link_down = true;
  std::string rendered = RenderNodeMetadata(meta);
  auto md = ParseNodeMetadata("<domain><metadata>" + rendered + "</metadata></domain>");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_TRUE(md->nics[1].link_down);
  EXPECT_FALSE(md->nics[0].link_down);
  std::string bad = rendered;
  bad.replace(bad.find("link-state='down'"), 17, "link-state='sideways'");
  auto refused = ParseNodeMetadata("<domain><metadata>" + bad + "</metadata></domain>");
  EXPECT_NE(refused.status().message().find("link-state='sideways' is not up or down"),
            std::string::npos)
      << refused.status().ToString();
}

TEST(DomainXmlTest, ManagementAddressesAndForwardsRoundTripAndBadForwardsAreRefused) {
  DomainSpec s = Spec();
  s.mgmt = {"10.250.3.10/24",   "10.250.3.1", "fd6c:7600:0:3::a/64",
            "fd6c:7600:0:3::1", true,         {{"tcp", 2201, 22}, {"udp", 1161, 161}}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(Has(d->xml, "<labvirt:mgmt ipv4='10.250.3.10/24' gateway4='10.250.3.1'"));
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->mgmt, s.mgmt);
  // Without a segment nothing is written, and nothing is read back.
  auto plain = BuildDomain(Spec());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(Has(plain->xml, "labvirt:mgmt"));
  EXPECT_EQ(ParseNodeMetadata(plain->xml)->mgmt, MgmtMetadata{});
  for (auto [from, to, why] : {std::tuple{"protocol='udp'", "protocol='sctp'", "is not tcp or udp"},
                               std::tuple{"host-port='2201'", "host-port='70000'", "1..65535"},
                               std::tuple{"port='22'", "port='x'", "is not a non-negative"}}) {
    std::string bad = d->xml;
    bad.replace(bad.find(from), std::string(from).size(), to);
    auto refused = ParseNodeMetadata(bad);
    EXPECT_NE(refused.status().message().find(why), std::string::npos)
        << refused.status().ToString();
  }
}

TEST(DomainXmlTest, ARedefinitionKeepsTheLinkStateOfItsNics) {
  DomainSpec s = Spec();
  s.links = {{"Gi0/1", "L7"}};
  s.nic_link_state["1"] = {true, "rate_kbit=200"};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->metadata.nics[1].link_down);
  EXPECT_EQ(d->metadata.nics[1].impairment, "rate_kbit=200");
  EXPECT_FALSE(d->metadata.nics[0].link_down);
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->nics[1].impairment, "rate_kbit=200") << "in the definition libvirt keeps";
  EXPECT_TRUE(md->nics[1].link_down);
}

TEST(DomainXmlTest, ParseRefusesForeignAndMalformed) {
  EXPECT_EQ(ParseNodeMetadata("<domain><name>x</name></domain>").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(
      ParseNodeMetadata("<domain><metadata><a:node xmlns:a='http://other/'/></metadata></domain>")
          .status()
          .code(),
      StatusCode::kNotFound);
  EXPECT_EQ(ParseNodeMetadata("<domain><metadata>").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseNodeMetadata("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseNodeMetadata("<network/>").status().code(), StatusCode::kInvalidArgument);
  const std::string ns = "xmlns:l='https://labvirt.dev/xmlns/node/1'";
  auto md = [&](const std::string& body, const std::string& attrs = "version='1'") {
    return ParseNodeMetadata("<domain><metadata><l:node " + ns + " " + attrs + ">" + body +
                             "</l:node></metadata></domain>");
  };
  std::string ok_body = "<l:lab>a</l:lab><l:name>b</l:name><l:kind>k</l:kind><l:tag>t</l:tag>";
  EXPECT_TRUE(md(ok_body).ok());
  EXPECT_NE(md("<l:lab>a</l:lab>").status().message().find("<name> is missing"), std::string::npos);
  EXPECT_NE(md(ok_body, "version='2'").status().message().find("version 2"), std::string::npos);
  EXPECT_NE(md(ok_body, "").status().message().find("version"), std::string::npos);
  EXPECT_FALSE(md("<l:lab>a b</l:lab><l:name>b</l:name><l:kind>k</l:kind><l:tag>t</l:tag>").ok());
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='weird' index='0'/></l:nics>")
                .status()
                .message()
                .find("role"),
            std::string::npos);
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='data' index='-1'/></l:nics>")
                .status()
                .message()
                .find("index"),
            std::string::npos);
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='data' index='0' tap='0123456789abcdef'/></l:nics>")
                .status()
                .message()
                .find("15 bytes"),
            std::string::npos);
}

TEST(DomainXmlTest, ParseNeverExpandsExternalEntities) {
  std::string xxe =
      "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>"
      "<domain><metadata><l:node xmlns:l='https://labvirt.dev/xmlns/node/1' version='1'>"
      "<l:lab>a</l:lab><l:name>b</l:name><l:kind>&x;</l:kind><l:tag>t</l:tag>"
      "</l:node></metadata></domain>";
  auto md = ParseNodeMetadata(xxe);
  if (md.ok()) {
    EXPECT_EQ(md->kind, "");
  }
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

TEST(DomainXmlTest, LivePtyPathReadsTheFirstPtySerial) {
  std::string xml =
      "<domain><devices><serial type='tcp'><source mode='bind' host='127.0.0.1'/></serial>"
      "<serial type='pty'><source path='/dev/pts/7'/><target port='0'/></serial>"
      "<console type='pty' tty='/dev/pts/9'><source path='/dev/pts/9'/></console>"
      "</devices></domain>";
  EXPECT_EQ(LivePtyPath(xml), "/dev/pts/7");
  EXPECT_EQ(LivePtyPath("<domain><devices><serial type='pty'/></devices></domain>"), "");
  EXPECT_EQ(LivePtyPath("<domain><devices/></domain>"), "");
  EXPECT_EQ(LivePtyPath("<domain><devices><serial type='pty'"), "") << "not well-formed";
  EXPECT_EQ(LivePtyPath("<network><devices><serial type='pty'><source path='/x'/></serial>"
                        "</devices></network>"),
            "")
      << "not a domain";
}

}  // namespace
}  // namespace labvirt::providers
