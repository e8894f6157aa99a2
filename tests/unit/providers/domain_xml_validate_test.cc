// Every catalog kind's domain XML passes libvirt's own schema check (virt-xml-validate, from
// libvirt-clients; no daemon needed), for KVM and TCG and with links, MTU and a mgmt network.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "engine/catalog/catalog.h"
#include "gtest/gtest.h"
#include "providers/domain_xml.h"
#include "providers/interface_naming.h"
#include "providers/node_naming.h"

namespace labvirt::providers {
namespace {

// Runs virt-xml-validate on `xml`; returns its output, empty on success.
std::string Validate(const std::string& xml, const std::string& name) {
  std::string path = "/tmp/labvirt-validate-" + std::to_string(::getpid()) + "-" + name + ".xml";
  std::ofstream(path) << xml;
  std::string out;
  FILE* p = ::popen(("virt-xml-validate '" + path + "' domain 2>&1").c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? ::pclose(p) : -1;
  ::unlink(path.c_str());
  return rc == 0 ? "" : (out.empty() ? "exit " + std::to_string(rc) : out);
}

TEST(DomainXmlValidateTest, EveryKindPassesVirtXmlValidate) {
  if (std::system("command -v virt-xml-validate >/dev/null 2>&1") != 0) {
    if (std::getenv("CI")) FAIL() << "virt-xml-validate missing (libvirt-clients)";
    GTEST_SKIP() << "virt-xml-validate missing (run ./tools/setup-host)";
  }
  auto c = engine::LoadCatalog(engine::SourceCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  int n = 0;
  for (const auto& k : c->kinds()) {
    DomainSpec s;
    s.lab = "lab1";
    s.node = "node-" + std::to_string(n);
    s.kind = k;
    s.kind_name = k.name;
    s.tag = NodeTag(s.lab, s.node);
    s.domain_type = n % 2 ? "qemu" : "kvm";
    s.image = "base.qcow2";
    s.overlay_path = "/var/lib/labvirt/disks/lab1/" + s.node + ".qcow2";
    s.state_dir = "/var/lib/labvirt";
    if (k.max_nics > 0) s.links = {{InterfaceName(k, 0), "link-1"}};
    if (n % 3 == 0) s.mtu = 9000;
    if (n % 4 == 0) s.management_network = "default";
    s.readiness_detail = "text with <xml> & 'quotes'";
    if (k.day0.method == "fat" || k.day0.method == "iso") {  // with its day-0 medium attached
      s.config_medium = "/var/lib/labvirt/day0/lab1/" + s.node + ".medium";
      s.config_bytes = 10;
    }
    if (IsContainerKind(k)) {  // with binds, as libvirt LXC's <filesystem type='mount'>
      s.binds = {{"/var/lib/labvirt/binds/cfg", "/config", true}, {"/srv/b/l", "/var/log", false}};
    }
    auto xml = BuildDomainXml(s);
    ASSERT_TRUE(xml.ok()) << k.name << ": " << xml.status().ToString();
    EXPECT_EQ(Validate(*xml, k.name), "") << k.name << "\n" << *xml;
    ++n;
  }
}

TEST(DomainXmlValidateTest, TcpSerialPassesVirtXmlValidate) {
  if (std::system("command -v virt-xml-validate >/dev/null 2>&1") != 0) GTEST_SKIP();
  DomainSpec s;
  s.lab = "lab1";
  s.node = "xr";
  s.kind.name = "t";
  s.kind.serials = {{"pty"}, {"tcp"}};
  s.tcp_serial_ports = {17001};
  s.tag = NodeTag("lab1", "xr");
  s.overlay_path = "/tmp/xr.qcow2";
  s.state_dir = "/tmp";
  s.kind.cpu.mode = "custom";
  s.kind.cpu.model = "qemu64";
  s.kind.disk_bus = "scsi";
  auto xml = BuildDomainXml(s);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(Validate(*xml, "tcp"), "") << *xml;
}

}  // namespace
}  // namespace labvirt::providers
