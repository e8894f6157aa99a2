// A container node's definition: built as a libvirt-LXC-style domain, read back exactly.
#include "providers/container_xml.h"

#include "gtest/gtest.h"
#include "providers/domain_xml.h"
#include "providers/node_naming.h"

namespace labvirt::providers {
namespace {

DomainSpec Spec() {
  DeviceKind k;
  k.name = "linux_container";
  k.vendor = "Generic";
  k.provider = "docker";
  k.memory_mb = 64;
  k.vcpus = 1;
  k.interface_prefix = "eth";
  k.interface_start = 1;
  k.max_nics = 8;
  k.default_nics = 2;
  k.container.cmd = {"/init", "--with <odd> & 'chars'"};
  k.container.env = {{"A", "1"}, {"B", "x y"}};
  k.container.capabilities = {"NET_ADMIN"};
  k.container.interfaces_env = "LABVIRT_INTFS";
  DomainSpec s;
  s.lab = "lab1";
  s.node = "c1";
  s.kind = k;
  s.kind_name = "linux_container";
  s.tag = NodeTag("lab1", "c1");
  s.image = "labvirt/linux-fixture:1";
  s.state_dir = "/var/lib/labvirt";
  s.links = {{"eth2", "l1"}};
  return s;
}

TEST(ContainerXmlTest, BuildsAContainerDomainAndReadsItBack) {
  auto built = BuildDomain(Spec());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_TRUE(IsContainerDomainXml(built->xml));
  EXPECT_NE(built->xml.find("<domain type='lxc'>"), std::string::npos);
  EXPECT_EQ(built->xml.find("qcow2"), std::string::npos) << "a container has no disk";
  auto def = ParseContainerDomain(built->xml);
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->name, built->name);
  EXPECT_EQ(def->image, "labvirt/linux-fixture:1");
  EXPECT_EQ(def->cmd, (std::vector<std::string>{"/init", "--with <odd> & 'chars'"}));
  EXPECT_EQ(def->env.at("B"), "x y");
  EXPECT_EQ(def->env.at("LABVIRT_INTFS"), "eth1 eth2") << "the init waits for these";
  EXPECT_EQ(def->memory_mb, 64);
  EXPECT_EQ(def->vcpus, 1);
  EXPECT_FALSE(def->privileged);
  EXPECT_EQ(def->capabilities, std::vector<std::string>{"NET_ADMIN"});
  ASSERT_EQ(def->nics.size(), 2u);
  EXPECT_EQ(def->nics[0].guest, "eth1");
  EXPECT_EQ(def->nics[1].guest, "eth2");
  EXPECT_EQ(def->nics[0].host, built->metadata.nics[0].tap);
  EXPECT_EQ(def->nics[1].mac, built->metadata.nics[1].mac);
  // The metadata survives the round trip: the engine reads a container like a VM.
  auto md = ParseNodeMetadata(RenderContainerDomain(*def));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->lab, "lab1");
  EXPECT_EQ(md->node, "c1");
  ASSERT_EQ(md->nics.size(), 2u);
  EXPECT_EQ(md->nics[1].link, "l1");
  EXPECT_FALSE(md->cpu.has_value());
  // Rendering the parsed definition and parsing it again changes nothing.
  auto again = ParseContainerDomain(RenderContainerDomain(*def));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->nics.size(), def->nics.size());
  EXPECT_EQ(again->cmd, def->cmd);
  EXPECT_EQ(again->env, def->env);
  EXPECT_EQ(again->metadata, def->metadata);
}

TEST(ContainerXmlTest, PrivilegedKindsKeepEveryCapability) {
  DomainSpec s = Spec();
  s.kind.container.privileged = true;
  s.kind.container.capabilities.clear();
  auto def = ParseContainerDomain(BuildDomain(s)->xml);
  ASSERT_TRUE(def.ok());
  EXPECT_TRUE(def->privileged);
}

TEST(ContainerXmlTest, ExecConsoleCommandRoundTripsApartFromTheNodeMetadata) {
  DomainSpec s = Spec();
  s.kind.container.console = "exec";
  s.kind.container.console_cmd = {"sh", "-c", "exec <cli> & 'x'"};
  auto built = BuildDomain(s);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto def = ParseContainerDomain(built->xml);
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->console_exec, s.kind.container.console_cmd);
  ASSERT_TRUE(ParseNodeMetadata(built->xml).ok()) << "the node metadata is still found";
  // SetMetadata replaces the node metadata only: the console stays.
  def->metadata = RenderNodeMetadata(built->metadata);
  auto again = ParseContainerDomain(RenderContainerDomain(*def, "/dev/pts/3"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->console_exec, s.kind.container.console_cmd);
  // A tty kind has none.
  EXPECT_TRUE(ParseContainerDomain(BuildDomain(Spec())->xml)->console_exec.empty());
  s.kind.container.console = "tty";
  EXPECT_TRUE(ParseContainerDomain(BuildDomain(s)->xml)->console_exec.empty());
}

TEST(ContainerXmlTest, StopSignalAndSysctlsRoundTripApartFromTheNodeMetadata) {
  DomainSpec s = Spec();
  s.kind.container.stop_signal = "SIGRTMIN+3";
  s.kind.container.sysctls = {{"net.ipv4.ip_forward", "0"}, {"net.x", "<&'>"}};
  auto built = BuildDomain(s);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto def = ParseContainerDomain(built->xml);
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->stop_signal, "SIGRTMIN+3");
  EXPECT_EQ(def->sysctls, s.kind.container.sysctls);
  ASSERT_TRUE(ParseNodeMetadata(built->xml).ok()) << "the node metadata is still found";
  // SetMetadata replaces the node metadata only: the runtime settings stay.
  def->metadata = RenderNodeMetadata(built->metadata);
  auto again = ParseContainerDomain(RenderContainerDomain(*def, "/dev/pts/3"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stop_signal, "SIGRTMIN+3");
  EXPECT_EQ(again->sysctls, s.kind.container.sysctls);
  // A kind without them has none, and no element for them.
  auto plain = BuildDomain(Spec());
  EXPECT_EQ(plain->xml.find("runtime"), std::string::npos);
  EXPECT_TRUE(ParseContainerDomain(plain->xml)->stop_signal.empty());
  EXPECT_TRUE(ParseContainerDomain(plain->xml)->sysctls.empty());
}

TEST(ContainerXmlTest, BindsAreLxcFilesystemMountsAndNodeMetadata) {
  DomainSpec s = Spec();
  s.binds = {{"/srv/binds/cfg", "/config", true}, {"/srv/binds/log", "/var/log", false}};
  auto built = BuildDomain(s);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_NE(built->xml.find("<filesystem type='mount'>"), std::string::npos) << built->xml;
  EXPECT_NE(built->xml.find("<readonly/>"), std::string::npos) << built->xml;
  auto def = ParseContainerDomain(built->xml);
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->binds, s.binds);
  // Kept in the node metadata too, so a redefinition from the metadata keeps them.
  auto md = ParseNodeMetadata(built->xml);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->binds, s.binds);
  auto again = ParseContainerDomain(RenderContainerDomain(*def));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->binds, s.binds);
  EXPECT_FALSE(ParseContainerDomain("<domain type='lxc'><name>x</name><devices><filesystem "
                                    "type='mount'><target dir='/x'/></filesystem></devices>"
                                    "</domain>")
                   .ok());
}

TEST(ContainerXmlTest, LiveFormCarriesTheConsolePty) {
  auto def = ParseContainerDomain(BuildDomain(Spec())->xml);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(LivePtyPath(RenderContainerDomain(*def)), "");
  EXPECT_EQ(LivePtyPath(RenderContainerDomain(*def, "/dev/pts/7")), "/dev/pts/7");
}

TEST(ContainerXmlTest, NicXmlForHotPlugNamesBothEnds) {
  DomainSpec s = Spec();
  auto built = BuildDomain(s);
  ASSERT_TRUE(built.ok());
  auto nic = ParseContainerNic(RenderNicXml(s, built->metadata.nics[1]));
  ASSERT_TRUE(nic.ok()) << nic.status().ToString();
  EXPECT_EQ(nic->guest, "eth2");
  EXPECT_EQ(nic->host, built->metadata.nics[1].tap);
  EXPECT_EQ(nic->mac, built->metadata.nics[1].mac);
}

TEST(ContainerXmlTest, RefusesWhatIsNotAContainerDomain) {
  EXPECT_FALSE(IsContainerDomainXml("<domain type='kvm'><name>x</name></domain>"));
  EXPECT_FALSE(IsContainerDomainXml("not xml"));
  EXPECT_FALSE(ParseContainerDomain("<domain type='kvm'/>").ok());
  EXPECT_FALSE(ParseContainerDomain("<<<").ok());
  auto no_image = ParseContainerDomain("<domain type='lxc'><name>x</name></domain>");
  ASSERT_FALSE(no_image.ok());
  EXPECT_NE(no_image.status().message().find("no image"), std::string::npos);
  auto bad_nic = ParseContainerNic("<interface type='ethernet'><target dev='t'/></interface>");
  ASSERT_FALSE(bad_nic.ok());
  EXPECT_NE(bad_nic.status().message().find("guest dev"), std::string::npos);
  EXPECT_FALSE(ParseContainerNic("<interface><target dev='0123456789abcdef'/>"
                                 "<guest dev='eth1'/></interface>")
                   .ok());
}

TEST(ContainerXmlTest, ContainerSpecNeedsAnImage) {
  DomainSpec s = Spec();
  s.image.clear();
  auto built = BuildDomain(s);
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.status().message().find("image"), std::string::npos);
}

}  // namespace
}  // namespace labvirt::providers
