// The management segment's pure parts (engine/lab/mgmt_segment.h): names on the host, addresses
// read back from metadata, the node's and lab's JSON, the DHCP leases, the Ansible inventory and
// the day-0 placeholders — each with the input that must be refused.
#include "engine/lab/mgmt_segment.h"

#include <simdjson.h>

#include "engine/lab/lab_store.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

providers::MgmtMetadata Address(const std::string& v4, const std::string& v6 = "") {
  providers::MgmtMetadata m;
  m.ipv4 = v4;
  m.gateway_ipv4 = "10.250.3.1";
  if (!v6.empty()) {
    m.ipv6 = v6;
    m.gateway_ipv6 = "fd6c:7600:0:3::1";
  }
  return m;
}

std::unique_ptr<Node> MakeNode(const std::string& name, const std::string& kind,
                               const std::string& network_os, const providers::MgmtMetadata& m,
                               const std::string& mac = "52:54:00:00:00:01") {
  auto n = std::make_unique<Node>();
  n->lab = "lab1";
  n->name = name;
  providers::DeviceKind k;
  k.name = kind;
  k.network_os = network_os;
  k.management_nic = true;
  k.management_interface = "mgmt0";
  n->kind = std::make_shared<const providers::DeviceKind>(std::move(k));
  n->metadata.mgmt = m;
  providers::NicMetadata nic;
  nic.role = providers::NicRole::kManagement;
  nic.mac = mac;
  n->metadata.nics.push_back(nic);
  return n;
}

TEST(MgmtSegmentTest, HostNamesAreShortStableAndNeverATap) {
  std::string a = GatewayPortName("default", "lab1");
  EXPECT_EQ(a, GatewayPortName("default", "lab1"));
  EXPECT_NE(a, GatewayPortName("default", "lab2"));
  EXPECT_NE(a, GatewayPortName("other", "lab1"));
  EXPECT_EQ(a.size(), 12u);  // an interface name holds 15
  EXPECT_EQ(a.rfind("lvgw", 0), 0u);
  EXPECT_EQ(NatTableName("default", "lab1"), "labvirt_" + a.substr(4));
}

TEST(MgmtSegmentTest, AddressOfDropsTheLength) {
  EXPECT_EQ(AddressOf("10.250.3.10/24"), "10.250.3.10");
  EXPECT_EQ(AddressOf(""), "");
}

TEST(MgmtSegmentTest, NodeJsonIsNullWithoutAManagementInterface) {
  auto n = MakeNode("r1", "n9kv", "cisco.nxos.nxos", Address("10.250.3.10/24"));
  n->metadata.mgmt.forwards = {{"tcp", 2201, 22}};
  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(NodeMgmtJson(*n));
  EXPECT_EQ(std::string_view(j["ipv4"]), "10.250.3.10");
  EXPECT_EQ(std::string_view(j["mac"]), "52:54:00:00:00:01");
  EXPECT_EQ(std::string_view(j["interface"]), "mgmt0");
  EXPECT_EQ(int64_t(j["forwards"].at(0)["host_port"]), 2201);
  providers::DeviceKind no_mgmt = *n->kind;
  no_mgmt.management_nic = false;
  n->kind = std::make_shared<const providers::DeviceKind>(std::move(no_mgmt));
  EXPECT_EQ(NodeMgmtJson(*n), "null");
}

TEST(MgmtSegmentTest, LeasesCoverNodesWithAnAddressAndMakeHostNamesLegal) {
  Lab lab;
  lab.name = "lab1";
  lab.nodes["r_1.core"] =
      MakeNode("r_1.core", "n9kv", "", Address("10.250.3.10/24", "fd6c:7600:0:3::a/64"));
  lab.nodes["r2"] = MakeNode("r2", "n9kv", "", providers::MgmtMetadata{});  // no segment
  auto leases = LeasesOf(lab);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ipv4, "10.250.3.10");
  EXPECT_EQ(leases[0].ipv6, "fd6c:7600:0:3::a");
  EXPECT_EQ(leases[0].hostname, "r-1-core");
  EXPECT_EQ(leases[0].mac, "52:54:00:00:00:01");
}

TEST(MgmtSegmentTest, InventoryGroupsByKindWithTheKindsNetworkOs) {
  Lab lab;
  lab.name = "lab1";
  lab.nodes["r1"] = MakeNode("r1", "cisco_n9kv", "cisco.nxos.nxos", Address("10.250.3.10/24"));
  lab.nodes["h1"] = MakeNode("h1", "linux_container", "", Address("10.250.3.11/24"));
  lab.nodes["x"] = MakeNode("x", "cisco_n9kv", "cisco.nxos.nxos", providers::MgmtMetadata{});
  EXPECT_EQ(InventoryOf(lab, true),
            "# labvirt inventory of lab lab1\n"
            "all:\n"
            "  children:\n"
            "    cisco_n9kv:\n"
            "      vars:\n"
            "        ansible_network_os: cisco.nxos.nxos\n"
            "        ansible_connection: ansible.netcommon.network_cli\n"
            "      hosts:\n"
            "        \"r1\":\n"
            "          ansible_host: 10.250.3.10\n"
            "    linux_container:\n"
            "      hosts:\n"
            "        \"h1\":\n"
            "          ansible_host: 10.250.3.11\n");
  simdjson::dom::parser p;
  simdjson::dom::element j = p.parse(InventoryOf(lab, false));
  EXPECT_EQ(std::string_view(j["all"]["children"]["cisco_n9kv"]["hosts"]["r1"]["ansible_host"]),
            "10.250.3.10");
  EXPECT_TRUE(j["all"]["children"]["cisco_n9kv"]["hosts"]["x"].error());
  Lab empty;
  empty.name = "e";
  EXPECT_EQ(InventoryOf(empty, true), "# labvirt inventory of lab e\nall:\n  hosts: {}\n");
}

TEST(MgmtSegmentTest, PlaceholdersAreFilledAndAMissingAddressIsRefused) {
  auto m = Address("10.250.3.10/24", "fd6c:7600:0:3::a/64");
  auto out = ExpandMgmtPlaceholders(
      "interface mgmt0\n ip address {{mgmt_ipv4}} {{mgmt_netmask}}\n ipv6 address "
      "{{mgmt_ipv6}}/{{mgmt_ipv6_prefix_length}}\nip route 0.0.0.0/0 {{mgmt_gateway_ipv4}} "
      "/{{mgmt_prefix_length}} {{mgmt_gateway_ipv6}}\nset {{ other }} {{mgmt_unknown}} {{mgmt_",
      "r1", m);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "interface mgmt0\n ip address 10.250.3.10 255.255.255.0\n ipv6 address "
            "fd6c:7600:0:3::a/64\nip route 0.0.0.0/0 10.250.3.1 /24 fd6c:7600:0:3::1\n"
            "set {{ other }} {{mgmt_unknown}} {{mgmt_");
  auto v4_only = Address("10.250.3.10/26");
  EXPECT_EQ(*ExpandMgmtPlaceholders("{{mgmt_netmask}}", "r1", v4_only), "255.255.255.192");
  auto refused = ExpandMgmtPlaceholders("ipv6 {{mgmt_ipv6}}", "r1", v4_only);
  EXPECT_EQ(refused.status().message(),
            "node r1: the startup config uses {{mgmt_ipv6}}, but the node has no such management "
            "address");
  EXPECT_FALSE(ExpandMgmtPlaceholders("{{mgmt_ipv4}}", "r1", providers::MgmtMetadata{}).ok());
  EXPECT_EQ(*ExpandMgmtPlaceholders("no placeholders", "r1", providers::MgmtMetadata{}),
            "no placeholders");
}

}  // namespace
}  // namespace labvirt::engine
