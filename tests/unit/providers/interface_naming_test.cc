#include "providers/interface_naming.h"

#include "engine/catalog/catalog.h"
#include "gtest/gtest.h"

namespace labvirt::providers {
namespace {

DeviceKind Nexus() {
  DeviceKind k;
  k.name = "cisco_n9kv";
  k.interface_prefix = "Ethernet1/";
  k.interface_start = 1;
  k.max_nics = 12;
  k.management_nic = true;
  k.management_interface = "mgmt0";
  return k;
}

TEST(InterfaceNamingTest, NameAndIndexBothWays) {
  DeviceKind k = Nexus();
  EXPECT_EQ(InterfaceName(k, 0), "Ethernet1/1");
  EXPECT_EQ(InterfaceName(k, 11), "Ethernet1/12");
  EXPECT_EQ(*InterfaceIndex(k, "Ethernet1/1"), 0);
  EXPECT_EQ(*InterfaceIndex(k, "ethernet1/12"), 11);
}

TEST(InterfaceNamingTest, RefusesBadNames) {
  DeviceKind k = Nexus();
  for (const char* bad :
       {"Ethernet1/0", "Ethernet1/13", "Ethernet1/", "Ethernet1/x", "Ethernet1/01", "Ethernet1/+1",
        "Ethernet1/1 ", "eth1", "", "mgmt0", "Ethernet1/-1", "Ethernet1/99999999999"}) {
    auto r = InterfaceIndex(k, bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(InterfaceIndex(k, "mgmt0").status().message().find("management"), std::string::npos);
}

TEST(InterfaceNamingTest, EveryShippedKindRoundTrips) {
  auto c = engine::LoadCatalog(engine::SourceCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const auto& k : c->kinds()) {
    for (int i = 0; i < k.max_nics; ++i) {
      std::string name = InterfaceName(k, i);
      auto back = InterfaceIndex(k, name);
      ASSERT_TRUE(back.ok()) << k.name << " " << name << ": " << back.status().ToString();
      EXPECT_EQ(*back, i) << k.name << " " << name;
    }
    EXPECT_FALSE(InterfaceIndex(k, InterfaceName(k, k.max_nics)).ok()) << k.name;
  }
}

// Issue 13: "eth1" named the first data NIC of an IOSv but the second of a Linux VM (whose own
// names are ethN from eth0). ethN is now data NIC N, counted from 1, on every kind.
TEST(InterfaceNamingTest, EthNIsTheSameDataNicOnEveryKind) {
  auto c = engine::LoadCatalog(engine::SourceCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const auto& k : c->kinds()) {
    for (int i = 0; i < k.max_nics; ++i) {
      auto by_alias = ResolveInterface(k, InterfaceAlias(i));
      ASSERT_TRUE(by_alias.ok()) << k.name << " " << by_alias.status().ToString();
      EXPECT_EQ(*by_alias, i) << k.name << " " << InterfaceAlias(i);
      // Vendor names work too, wherever they are not themselves of the alias form.
      if (k.interface_prefix != "eth") {
        auto by_vendor = ResolveInterface(k, InterfaceName(k, i));
        ASSERT_TRUE(by_vendor.ok()) << k.name << " " << by_vendor.status().ToString();
        EXPECT_EQ(*by_vendor, i) << k.name << " " << InterfaceName(k, i);
      }
    }
    EXPECT_FALSE(ResolveInterface(k, "eth0").ok()) << k.name << ": aliases count from 1";
    EXPECT_FALSE(ResolveInterface(k, InterfaceAlias(k.max_nics)).ok()) << k.name;
  }
  EXPECT_EQ(InterfaceAlias(0), "eth1");
  EXPECT_EQ(*ResolveInterface(*c->Find("linux"), "eth1"), 0);
  EXPECT_EQ(*ResolveInterface(*c->Find("generic"), "eth1"), 0);
  EXPECT_EQ(*ResolveInterface(*c->Find("iosv"), "eth1"), 0);
  EXPECT_EQ(*ResolveInterface(*c->Find("iosv"), "GigabitEthernet0/1"), 1);
  EXPECT_EQ(*ResolveInterface(*c->Find("n9kv"), "Ethernet1/3"), 2);
  EXPECT_NE(ResolveInterface(*c->Find("linux"), "eth0").status().message().find("from 1"),
            std::string::npos);
  EXPECT_FALSE(ResolveInterface(*c->Find("iosv"), "eth01").ok()) << "one spelling per NIC";
}

}  // namespace
}  // namespace labvirt::providers
