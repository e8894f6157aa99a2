// ParseLabSpec and ParseEndpoint: every field's check, each failure naming the field by its JSON
// path ("nodes[1].image", "links[0].endpoints[1]") and saying why; and what a valid spec holds.
#include "engine/control/lab_spec.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

// What a refused spec says: the field's path and the reason.
struct Failure {
  std::string field;
  std::string reason;
};

// The only code in this file that knows how a parse failure is returned: a Status naming the
// field path, its message the reason.
template <typename T>
std::optional<Failure> FailureOf(const Result<T>& parsed) {
  if (parsed.ok()) return std::nullopt;
  return Failure{parsed.status().field(), parsed.status().message()};
}
template <typename T>
const T* ValueOf(const Result<T>& parsed) {
  return parsed.ok() ? &parsed.value() : nullptr;
}

class LabSpecTest : public ::testing::Test {
 protected:
  // Parses `json` as lab.deploy params; the element lives as long as parser_'s next parse.
  Result<LabSpec> Parse(const std::string& json) {
    simdjson::dom::element doc;
    EXPECT_EQ(parser_.parse(json).get(doc), simdjson::SUCCESS) << json;
    return ParseLabSpec(doc);
  }
  // The failure of `json`, or {"(accepted)", ""}.
  Failure Refusal(const std::string& json) {
    auto failure = FailureOf(Parse(json));
    return failure ? *failure : Failure{"(accepted)", ""};
  }
  // A lab "l" of the given node objects (and links, when given).
  static std::string Lab(const std::string& nodes, const std::string& links = "") {
    std::string json = R"({"lab":"l","nodes":[)" + nodes + "]";
    if (!links.empty()) json += R"(,"links":)" + links;
    return json + "}";
  }
  // A valid node named `name` with `extra` members appended.
  static std::string Node(const std::string& name, const std::string& extra = "") {
    return R"({"name":")" + name + R"(","kind":"iosv","image":"base.qcow2")" + extra + "}";
  }

  simdjson::dom::parser parser_;
};

#define EXPECT_REFUSED(json, want_field, want_reason) \
  do {                                                \
    Failure f = Refusal(json);                        \
    EXPECT_EQ(f.field, want_field) << (json);         \
    EXPECT_EQ(f.reason, want_reason) << (json);       \
  } while (0)

TEST_F(LabSpecTest, BindsAreReadAndEveryBadOneNamesItsIndex) {
  auto parsed = Parse(Lab(Node("c1", R"(,"binds":["cfg:/config:ro","logs/a:/var/log"])")));
  const LabSpec* spec = ValueOf(parsed);
  ASSERT_NE(spec, nullptr) << FailureOf(parsed)->field << ": " << FailureOf(parsed)->reason;
  ASSERT_EQ(spec->nodes[0].binds.size(), 2u);
  EXPECT_EQ(spec->nodes[0].binds[0], (providers::BindMount{"cfg", "/config", true}));
  EXPECT_EQ(spec->nodes[0].binds[1], (providers::BindMount{"logs/a", "/var/log", false}));

  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":"a:/b")")), "nodes[0].binds",
                 "must be an array of \"SRC:DST[:ro]\" strings");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:/b",1])")), "nodes[0].binds[1]",
                 "must be a string");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a"])")), "nodes[0].binds[0]",
                 "'a' is not SRC:DST[:ro|:rw]");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":[":/b"])")), "nodes[0].binds[0]",
                 "the source is empty");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:"])")), "nodes[0].binds[0]", "the target is empty");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:b"])")), "nodes[0].binds[0]",
                 "the target 'b' is not an absolute path");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:/x/../etc"])")), "nodes[0].binds[0]",
                 "the target '/x/../etc' has a '..' component");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:/"])")), "nodes[0].binds[0]",
                 "the target is the container's root");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:/b:rx"])")), "nodes[0].binds[0]",
                 "mode 'rx' is not ro or rw");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a:/b:ro:x"])")), "nodes[0].binds[0]",
                 "mode 'ro:x' is not ro or rw");
  EXPECT_REFUSED(Lab(Node("c1", R"(,"binds":["a\tb:/b"])")), "nodes[0].binds[0]",
                 "the source has a control character");
  EXPECT_REFUSED(Lab(Node("c0") + "," + Node("c1", R"(,"binds":["ok:/ok","a:/b:bad"])")),
                 "nodes[1].binds[1]", "mode 'bad' is not ro or rw");
}

TEST_F(LabSpecTest, AFullSpecIsReadIntoItsFields) {
  auto parsed = Parse(
      Lab(R"({"name":"r1","kind":"iosv","image":"a/b.qcow2","nics":4,"memory_mb":512,"vcpus":2,)"
          R"("machine":"pc","disk_bus":"ide","nic_model":"e1000","cpu_mode":"custom",)"
          R"("cpu_model":"Haswell","boot_timeout_s":600,"idle_timeout_s":0,)"
          R"("ready_patterns":["Router>","login:"],"start":false},)" +
              Node("r2"),
          R"([{"endpoints":["r1:GigabitEthernet0/1","r2:eth1"]}])"));
  const LabSpec* spec = ValueOf(parsed);
  ASSERT_NE(spec, nullptr) << FailureOf(parsed)->field << ": " << FailureOf(parsed)->reason;
  EXPECT_EQ(spec->name, "l");
  EXPECT_EQ(spec->name_field, "lab");
  ASSERT_EQ(spec->nodes.size(), 2u);
  const NodeSpec& r1 = spec->nodes[0];
  EXPECT_EQ(r1.name, "r1");
  EXPECT_EQ(r1.kind, "iosv");
  EXPECT_EQ(r1.image, "a/b.qcow2");
  EXPECT_EQ(r1.nics, 4);
  EXPECT_EQ(r1.memory_mb, 512);
  EXPECT_EQ(r1.vcpus, 2);
  EXPECT_EQ(r1.machine, "pc");
  EXPECT_EQ(r1.disk_bus, "ide");
  EXPECT_EQ(r1.nic_model, "e1000");
  EXPECT_EQ(r1.cpu_mode, "custom");
  EXPECT_EQ(r1.cpu_model, "Haswell");
  EXPECT_EQ(r1.boot_timeout_s, 600);
  EXPECT_EQ(r1.idle_timeout_s, 0);
  EXPECT_EQ(r1.ready_patterns, (std::vector<std::string>{"Router>", "login:"}));
  EXPECT_FALSE(r1.start);
  ASSERT_EQ(spec->links.size(), 1u);
  EXPECT_EQ(spec->links[0].a.node, "r1");
  EXPECT_EQ(spec->links[0].a.interface, "GigabitEthernet0/1");
  EXPECT_EQ(spec->links[0].b.node, "r2");
  EXPECT_EQ(spec->links[0].b.interface, "eth1");
}

TEST_F(LabSpecTest, OmittedOptionsStayUnsetAndANodeStartsByDefault) {
  auto parsed = Parse(Lab(Node("r1")));
  const LabSpec* spec = ValueOf(parsed);
  ASSERT_NE(spec, nullptr);
  ASSERT_EQ(spec->nodes.size(), 1u);
  const NodeSpec& n = spec->nodes[0];
  EXPECT_FALSE(n.nics || n.memory_mb || n.vcpus || n.boot_timeout_s || n.idle_timeout_s);
  EXPECT_FALSE(n.machine || n.disk_bus || n.nic_model || n.cpu_mode || n.cpu_model);
  EXPECT_TRUE(n.ready_patterns.empty());
  EXPECT_TRUE(n.start);
  EXPECT_TRUE(spec->links.empty());
}

TEST_F(LabSpecTest, TheLabIsNamedByLabOrItsOldAliasNameButNotBoth) {
  auto by_name = Parse(R"({"name":"old","nodes":[]})");
  ASSERT_NE(ValueOf(by_name), nullptr);
  EXPECT_EQ(ValueOf(by_name)->name, "old");
  EXPECT_EQ(ValueOf(by_name)->name_field, "name");
  EXPECT_REFUSED(R"({"lab":"a","name":"b","nodes":[]})", "name",
                 "is the old alias of \"lab\"; give only \"lab\"");
  EXPECT_REFUSED(R"({"nodes":[]})", "lab", "required string");
  EXPECT_REFUSED(R"({"lab":5,"nodes":[]})", "lab", "must be a string");
  EXPECT_REFUSED(R"({"name":true,"nodes":[]})", "name", "must be a string");
}

TEST_F(LabSpecTest, ParamsAndNodesMustHaveTheirShape) {
  EXPECT_REFUSED("[1]", "params", "must be an object");
  EXPECT_REFUSED(R"({"lab":"l"})", "nodes", "required: an array of nodes");
  EXPECT_REFUSED(R"({"lab":"l","nodes":{}})", "nodes", "required: an array of nodes");
  EXPECT_REFUSED(Lab(Node("r1") + ",7"), "nodes[1]", "must be an object");
  EXPECT_REFUSED(Lab(Node("r1") + "," + Node("r2", R"(,"colour":"red")")), "nodes[1].colour",
                 "unknown field");
}

TEST_F(LabSpecTest, NameKindAndImageAreRequiredStrings) {
  EXPECT_REFUSED(Lab(Node("r1") + R"(,{"kind":"iosv","image":"x"})"), "nodes[1].name", "required");
  EXPECT_REFUSED(Lab(Node("r1") + R"(,{"name":"r2","image":"x"})"), "nodes[1].kind", "required");
  EXPECT_REFUSED(Lab(Node("r1") + R"(,{"name":"r2","kind":"iosv"})"), "nodes[1].image", "required");
  EXPECT_REFUSED(Lab(R"({"name":1,"kind":"iosv","image":"x"})"), "nodes[0].name",
                 "must be a string");
  EXPECT_REFUSED(Lab(R"({"name":"r1","kind":[],"image":"x"})"), "nodes[0].kind",
                 "must be a string");
  EXPECT_REFUSED(Lab(Node("r1") + R"(,{"name":"r2","kind":"iosv","image":null})"), "nodes[1].image",
                 "must be a string");
}

TEST_F(LabSpecTest, NodeNamesAreUnique) {
  EXPECT_REFUSED(Lab(Node("r1") + "," + Node("r2") + "," + Node("r1")), "nodes[2].name",
                 "duplicate node name \"r1\"");
}

TEST_F(LabSpecTest, EveryIntegerFieldChecksItsTypeAndRange) {
  struct Case {
    std::string key;
    int lo, hi;
  };
  const std::vector<Case> cases = {{"nics", 0, 64},
                                   {"memory_mb", 16, 1 << 20},
                                   {"vcpus", 1, 128},
                                   {"boot_timeout_s", 1, 24 * 3600},
                                   {"idle_timeout_s", 0, 24 * 3600}};
  for (const auto& c : cases) {
    std::string field = "nodes[1]." + c.key;
    auto with = [&](const std::string& value) {
      return Lab(Node("r1") + "," + Node("r2", ",\"" + c.key + "\":" + value));
    };
    std::string range = "must be " + std::to_string(c.lo) + ".." + std::to_string(c.hi);
    EXPECT_REFUSED(with("\"4\""), field, "must be an integer");
    EXPECT_REFUSED(with("1.5"), field, "must be an integer");
    EXPECT_REFUSED(with(std::to_string(c.lo - 1)), field,
                   range + ", got " + std::to_string(c.lo - 1));
    EXPECT_REFUSED(with(std::to_string(c.hi + 1)), field,
                   range + ", got " + std::to_string(c.hi + 1));
    EXPECT_EQ(Refusal(with(std::to_string(c.lo))).field, "(accepted)") << c.key;
    EXPECT_EQ(Refusal(with(std::to_string(c.hi))).field, "(accepted)") << c.key;
  }
}

TEST_F(LabSpecTest, EveryOptionalStringFieldMustBeAString) {
  for (std::string key : {"machine", "disk_bus", "nic_model", "cpu_mode", "cpu_model",
                          "startup_config", "username", "password"}) {
    EXPECT_REFUSED(Lab(Node("r1", ",\"" + key + "\":3")), "nodes[0]." + key, "must be a string");
  }
}

TEST_F(LabSpecTest, AStartupConfigAndCredentialsAreReadAsGiven) {
  // The text is checked against the kind later (engine/catalog/startup_config.h), not here.
  auto parsed = Parse(Lab(Node("r1", R"(,"startup_config":"hostname r1\n\u0000","username":"u",)"
                                     R"("password":"")")));
  const LabSpec* lab = ValueOf(parsed);
  ASSERT_NE(lab, nullptr) << parsed.status().ToString();
  ASSERT_TRUE(lab->nodes[0].startup_config);
  EXPECT_EQ(*lab->nodes[0].startup_config, std::string("hostname r1\n\0", 13));
  EXPECT_EQ(lab->nodes[0].username, "u");
  EXPECT_EQ(lab->nodes[0].password, "");
}

TEST_F(LabSpecTest, SavedConfigOptionsAreBooleansAndTheNodesOverridesTheLab) {
  EXPECT_REFUSED(Lab(Node("r1", R"(,"save_on_stop":"yes")")), "nodes[0].save_on_stop",
                 "must be a boolean");
  EXPECT_REFUSED(R"({"lab":"l","nodes":[],"use_saved_configs":1})", "use_saved_configs",
                 "must be a boolean");
  EXPECT_REFUSED(R"({"lab":"l","nodes":[],"save_on_stop":"on"})", "save_on_stop",
                 "must be a boolean");
  auto parsed = Parse(R"({"lab":"l","use_saved_configs":true,"save_on_stop":true,"nodes":[)" +
                      Node("r1") + "," + Node("r2", R"(,"save_on_stop":false)") + "]}");
  const LabSpec* lab = ValueOf(parsed);
  ASSERT_NE(lab, nullptr) << parsed.status().ToString();
  EXPECT_TRUE(lab->use_saved_configs);
  EXPECT_TRUE(lab->save_on_stop);
  EXPECT_FALSE(lab->nodes[0].save_on_stop.has_value());  // the lab's default applies
  EXPECT_EQ(lab->nodes[1].save_on_stop, false);
}

TEST_F(LabSpecTest, ReadyPatternsAreNonEmptyStringsAndStartIsABoolean) {
  EXPECT_REFUSED(Lab(Node("r1", R"(,"ready_patterns":"Router>")")), "nodes[0].ready_patterns",
                 "must be an array");
  EXPECT_REFUSED(Lab(Node("r1", R"(,"ready_patterns":["ok",""])")), "nodes[0].ready_patterns",
                 "must hold non-empty strings");
  EXPECT_REFUSED(Lab(Node("r1", R"(,"ready_patterns":[1])")), "nodes[0].ready_patterns",
                 "must hold non-empty strings");
  EXPECT_REFUSED(Lab(Node("r1", R"(,"start":"yes")")), "nodes[0].start", "must be a boolean");
}

TEST_F(LabSpecTest, LinksNameTwoEndpointsOfNodesInTheLab) {
  const std::string nodes = Node("r1") + "," + Node("r2");
  EXPECT_REFUSED(Lab(nodes, "{}"), "links", "must be an array");
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1","r2:e1"]},"r1:e2"])"), "links[1]",
                 "must be an object");
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1","r2:e1"],"vlan":3}])"), "links[0].vlan",
                 "unknown field");
  const std::string two = "must be an array of two \"node:interface\" strings";
  EXPECT_REFUSED(Lab(nodes, R"([{}])"), "links[0].endpoints", two);
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1"]}])"), "links[0].endpoints", two);
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1","r2:e1","r1:e2"]}])"), "links[0].endpoints",
                 two);
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1",2]}])"), "links[0].endpoints[1]",
                 "must be a string");
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1","r2"]}])"), "links[0].endpoints[1]",
                 "expected \"node:interface\", got \"r2\"");
  EXPECT_REFUSED(Lab(nodes, R"([{"endpoints":["r1:e1","r2:e1"]},{"endpoints":["r9:e1","r2:e2"]}])"),
                 "links[1].endpoints[0]", "no node named \"r9\" in this lab");
}

TEST(ParseEndpointTest, SplitsAtTheFirstColonAndNeedsBothSides) {
  auto ep = ParseEndpoint("r1:GigabitEthernet0/0:1", "f");
  ASSERT_NE(ValueOf(ep), nullptr);
  EXPECT_EQ(ValueOf(ep)->node, "r1");
  EXPECT_EQ(ValueOf(ep)->interface, "GigabitEthernet0/0:1");
  for (std::string bad : {"r1", ":e1", "r1:", ""}) {
    auto failure = FailureOf(ParseEndpoint(bad, "endpoints[0]"));
    ASSERT_TRUE(failure.has_value()) << bad;
    EXPECT_EQ(failure->field, "endpoints[0]");
    EXPECT_EQ(failure->reason, "expected \"node:interface\", got \"" + bad + "\"");
  }
}

}  // namespace
}  // namespace labvirt::engine

namespace labvirt::engine {
namespace {

// The management segment's settings: a boolean, or an object read into MgmtSpec.
class MgmtSpecTest : public LabSpecTest {
 protected:
  static std::string WithMgmt(const std::string& mgmt) {
    return R"({"lab":"l","nodes":[)" + Node("r1") + "," + Node("r2") + R"(],"mgmt":)" + mgmt + "}";
  }
};

TEST_F(MgmtSpecTest, DefaultsWhenAbsentAndABooleanTurnsItOnOrOff) {
  auto plain = Parse(Lab(Node("r1")));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->mgmt.enabled);
  EXPECT_TRUE(plain->mgmt.ipv6);
  EXPECT_FALSE(plain->mgmt.nat);
  auto off = Parse(WithMgmt("false"));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->mgmt.enabled);
}

TEST_F(MgmtSpecTest, AFullObjectIsReadIntoItsFields) {
  auto spec = Parse(WithMgmt(
      R"({"subnet":"10.9.8.0/24","ipv6":"fd00:1:2:3::/64","nat":true,"forwards":[)"
      R"({"node":"r1","host_port":2201},{"node":"r2","port":161,"host_port":1161,"protocol":"udp"}]})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  const MgmtSpec& m = spec->mgmt;
  EXPECT_EQ(m.subnet, "10.9.8.0/24");
  EXPECT_EQ(m.subnet_ipv6, "fd00:1:2:3::/64");
  EXPECT_TRUE(m.nat);
  ASSERT_EQ(m.forwards.size(), 2u);
  EXPECT_EQ(m.forwards[0].port, 22);  // ssh unless said
  EXPECT_EQ(m.forwards[0].protocol, "tcp");
  EXPECT_EQ(m.forwards[1].node, "r2");
  EXPECT_EQ(m.forwards[1].host_port, 1161);
  EXPECT_EQ(m.forwards[1].protocol, "udp");
  auto v4_only = Parse(WithMgmt(R"({"ipv6":false})"));
  ASSERT_TRUE(v4_only.ok());
  EXPECT_FALSE(v4_only->mgmt.ipv6);
}

TEST_F(MgmtSpecTest, EveryBadMemberIsNamed) {
  EXPECT_REFUSED(WithMgmt("7"), "mgmt", "must be a boolean or an object");
  EXPECT_REFUSED(WithMgmt(R"({"colour":1})"), "mgmt.colour", "unknown field");
  EXPECT_REFUSED(WithMgmt(R"({"nat":"yes"})"), "mgmt.nat", "must be a boolean");
  EXPECT_REFUSED(WithMgmt(R"({"enabled":1})"), "mgmt.enabled", "must be a boolean");
  EXPECT_REFUSED(WithMgmt(R"({"subnet":10})"), "mgmt.subnet",
                 "must be a string: an IPv4 prefix such as 10.1.2.0/24");
  EXPECT_REFUSED(WithMgmt(R"({"ipv6":6})"), "mgmt.ipv6",
                 "must be a boolean or an IPv6 /64 such as fd00:1:2:3::/64");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":{}})"), "mgmt.forwards", "must be an array");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[1]})"), "mgmt.forwards[0]", "must be an object");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[{"host_port":1}]})"), "mgmt.forwards[0].node",
                 "required string");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[{"node":"r9","host_port":1}]})"), "mgmt.forwards[0].node",
                 "no node named \"r9\" in this lab");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[{"node":"r1"}]})"), "mgmt.forwards[0].host_port",
                 "required: a port number 1..65535");
  for (const char* bad : {"0", "65536", "-1", "\"22\"", "2.5"}) {
    EXPECT_REFUSED(WithMgmt(std::string(R"({"forwards":[{"node":"r1","host_port":2201,"port":)") +
                            bad + "}]}"),
                   "mgmt.forwards[0].port", "must be a port number 1..65535");
  }
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[{"node":"r1","host_port":1,"protocol":"sctp"}]})"),
                 "mgmt.forwards[0].protocol", "must be \"tcp\" or \"udp\"");
  EXPECT_REFUSED(WithMgmt(R"({"forwards":[{"node":"r1","host_port":1,"via":2}]})"),
                 "mgmt.forwards[0].via", "unknown field");
  EXPECT_REFUSED(WithMgmt(R"({"enabled":false,"nat":true})"), "mgmt.enabled",
                 "is false, yet the segment is given settings");
}

}  // namespace
}  // namespace labvirt::engine
