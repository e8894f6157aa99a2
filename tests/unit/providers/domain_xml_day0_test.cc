// The day-0 medium in the domain XML: where each kind of medium is attached, that libvirt's schema
// takes it (virt-xml-validate), and that the metadata remembers the config across a reconcile.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"
#include "providers/domain_xml.h"
#include "providers/node_naming.h"

namespace labvirt::providers {
namespace {

DomainSpec Spec(const std::string& machine, const std::string& bus, Day0Spec day0) {
  DomainSpec s;
  s.lab = "lab1";
  s.node = "r1";
  s.kind.name = "test";
  s.kind.vendor = "V";
  s.kind.machine = machine;
  s.kind.disk_bus = bus;
  s.kind.readiness.success = {"login:"};
  s.kind.day0 = std::move(day0);
  s.kind_name = "test";
  s.tag = NodeTag("lab1", "r1");
  s.overlay_path = "/var/lib/labvirt/overlays/lab1/r1.qcow2";
  s.state_dir = "/var/lib/labvirt";
  s.config_medium = "/var/lib/labvirt/day0/lab1/r1.img";
  s.config_bytes = 42;
  return s;
}

const Day0Spec kFatDisk{"fat", "disk", "CFG", "ios_config.txt", "none", 1000, ""};
const Day0Spec kFatUsb{"fat", "usb", "vmm-data", "juniper.conf", "none", 1000, ""};
const Day0Spec kIso{"iso", "cdrom", "config", "iosxe_config.txt", "none", 1000, ""};

// The <disk> element that holds the medium, or "".
std::string MediumDisk(const std::string& xml) {
  size_t src = xml.find("/day0/lab1/r1.img");
  if (src == std::string::npos) return "";
  size_t begin = xml.rfind("<disk", src);
  size_t end = xml.find("</disk>", src);
  return xml.substr(begin, end - begin);
}

// virt-xml-validate's complaint about `xml`, or "" when it passes (or is not installed).
std::string SchemaComplaint(const std::string& xml) {
  if (std::system("command -v virt-xml-validate >/dev/null 2>&1") != 0) return "";
  std::string path = "/tmp/labvirt-day0-xml-" + std::to_string(::getpid()) + ".xml";
  std::ofstream(path) << xml;
  std::string out;
  FILE* p = ::popen(("virt-xml-validate '" + path + "' domain 2>&1").c_str(), "r");
  std::array<char, 512> buf;
  size_t n;
  while (p && (n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = p ? ::pclose(p) : -1;
  ::unlink(path.c_str());
  return rc == 0 ? "" : out;
}

TEST(DomainXmlDay0Test, EachMediumIsTheSecondDriveWhereTheGuestLooks) {
  struct Case {
    std::string machine, bus;
    Day0Spec day0;
    std::string want;
  };
  const Case cases[] = {
      {"pc-i440fx-6.2", "ide", kFatDisk, "<target dev='hdb' bus='ide'/>"},
      {"q35", "virtio", kFatDisk, "<target dev='vdb' bus='virtio'/>"},
      {"q35", "sata", kFatDisk, "<target dev='sdb' bus='sata'/>"},
      {"q35", "virtio", kFatUsb, "<target dev='sdc' bus='usb'/>"},
      {"pc", "virtio", kIso, "<target dev='hdc' bus='ide'/>"},
      {"q35", "virtio", kIso, "<target dev='sdb' bus='sata'/>"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.machine + " " + c.bus + " " + c.day0.method + "/" + c.day0.attach);
    auto built = BuildDomain(Spec(c.machine, c.bus, c.day0));
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    std::string disk = MediumDisk(built->xml);
    EXPECT_NE(disk.find(c.want), std::string::npos) << disk;
    EXPECT_NE(disk.find("type='raw'"), std::string::npos) << disk;
    bool cdrom = c.day0.method == "iso";
    EXPECT_EQ(disk.find("device='cdrom'") != std::string::npos, cdrom) << disk;
    EXPECT_EQ(disk.find("<readonly/>") != std::string::npos, cdrom) << disk;
    EXPECT_EQ(SchemaComplaint(built->xml), "");
  }
}

TEST(DomainXmlDay0Test, NoConfigNoMediumAndAKindWithoutMediaIsRefused) {
  DomainSpec s = Spec("q35", "virtio", kFatDisk);
  s.config_medium.clear();
  s.config_bytes = 0;
  auto plain = BuildDomain(s);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(MediumDisk(plain->xml), "");
  EXPECT_EQ(plain->xml.find("startup-config"), std::string::npos);
  DomainSpec console = Spec("q35", "virtio", Day0Spec{"console", "", "", "", "none", 9, ""});
  auto refused = BuildDomain(console);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("config_medium"), std::string::npos);
}

TEST(DomainXmlDay0Test, TheMetadataKeepsTheConfigForAReconcile) {
  auto built = BuildDomain(Spec("q35", "virtio", kIso));
  ASSERT_TRUE(built.ok());
  EXPECT_NE(built->xml.find("<labvirt:startup-config method='iso' bytes='42'/>"),
            std::string::npos);
  // What the engine checks in the live XML before it resumes the VM.
  EXPECT_TRUE(HasDiskSource(built->xml, "/var/lib/labvirt/day0/lab1/r1.img"));
  EXPECT_FALSE(HasDiskSource(built->xml, "/var/lib/labvirt/day0/lab1/r2.img"));
  EXPECT_FALSE(HasDiskSource("<not a domain", "/var/lib/labvirt/day0/lab1/r1.img"));
  auto md = ParseNodeMetadata(built->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->config_method, "iso");
  EXPECT_EQ(md->config_bytes, 42);
}

}  // namespace
}  // namespace labvirt::providers
