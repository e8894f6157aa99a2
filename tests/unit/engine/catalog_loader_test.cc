// The shipped catalog and the loader's refusal of malformed catalogs (file, entry, field named).
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "engine/catalog/catalog.h"
#include "engine/catalog/catalog_validate.h"
#include "engine/readiness/readiness_patterns.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

// A minimal valid catalog: one "generic" kind; tests patch one piece of it.
std::string Kind(const std::string& name, const std::string& extra = "",
                 const std::string& readiness = R"("success": ["(^|\\n)[\\w.-]+ login:"],
                                                    "overall_timeout_s": 300)") {
  return R"({"name": ")" + name + R"(", "vendor": "V", "memory_mb": 1024, "vcpus": 1,
    "machine": "q35", "cpu_mode": "host-model", "firmware": "bios", "disk_bus": "virtio",
    "disk_cache": "none", "disk_io": "native", "nic_model": "virtio", "max_nics": 8,
    "default_nics": 4, "interface_prefix": "eth", "interface_start": 0,
    "readiness": {)" +
         readiness + R"(}, "admission_weight": 1.0, "notes": "")" + extra + "}";
}

std::string Catalog(const std::string& kinds, const std::string& deny = "[]") {
  return R"({"notes": "test", "kinds": [)" + kinds + R"(], "denylist": )" + deny + "}";
}

// Loads `json` and expects a refusal whose message holds every piece of `parts`.
void ExpectRefused(const std::string& json, std::initializer_list<std::string> parts) {
  auto c = LoadCatalogFromString(json, "test.json");
  ASSERT_FALSE(c.ok()) << json;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("catalog test.json: "), std::string::npos)
      << c.status().message();
  for (const auto& p : parts) {
    EXPECT_NE(c.status().message().find(p), std::string::npos)
        << "missing '" << p << "' in: " << c.status().message();
  }
}

TEST(CatalogLoaderTest, MinimalCatalogLoads) {
  auto c = LoadCatalogFromString(Catalog(Kind("generic")));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kinds().size(), 1u);
  EXPECT_EQ(c->kinds()[0].serials.size(), 1u);
  EXPECT_EQ(c->kinds()[0].shutdown_timeout.count(), 60);
}

TEST(CatalogLoaderTest, MemorySharingDefaultsOnAndReadsFalse) {
  auto on = LoadCatalogFromString(Catalog(Kind("generic")));
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  EXPECT_TRUE(on->Resolve("generic")->memory_sharing);
  auto off = LoadCatalogFromString(Catalog(Kind("generic", R"(, "memory_sharing": false)")));
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->Resolve("generic")->memory_sharing);
}

TEST(CatalogLoaderTest, ShippedCatalogLoadsWithEveryRequiredKind) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GE(c->kinds().size(), 40u);
  EXPECT_FALSE(c->notes().empty());
  for (const char* k : {"cisco_iosxr",
                        "cisco_iosv",
                        "cisco_iosvl2",
                        "cisco_csr1000v",
                        "juniper_vsrx3",
                        "juniper_vjunosrouter",
                        "juniper_vjunosevolved",
                        "juniper_vjunosswitch",
                        "sonic-vs",
                        "cisco_n9kv",
                        "f5_bigip",
                        "citrix_adc",
                        "cisco_asav",
                        "fortinet_fortigate",
                        "paloalto_vmseries",
                        "linux",
                        "alpine",
                        "tcl",
                        "windows",
                        "c8000v",
                        "cat-sdwan-controller",
                        "cat-sdwan-manager",
                        "cat-sdwan-validator",
                        "cat-sdwan-vedge",
                        "ftdv",
                        "fmcv",
                        "cat9800",
                        "cat9000v-q200",
                        "cat9000v-uadp",
                        "veos",
                        "vmx",
                        "vqfx",
                        "xrv",
                        "sros",
                        "chr",
                        "fortigate",
                        "panos",
                        "generic"}) {
    EXPECT_NE(c->Find(k), nullptr) << k;
  }
  for (const auto& k : c->kinds()) {
    EXPECT_TRUE(ValidateDeviceKind(k).ok()) << k.name;
    EXPECT_FALSE(k.notes.empty()) << k.name << " has no notes";
    // The seed's writeback cache corrupted shared backing images.
    EXPECT_EQ(k.disk_cache, "none") << k.name;
    for (const auto& p : k.readiness.success) EXPECT_NE(p.back(), '$') << k.name;
  }
}

// The loader's own pattern check and the readiness scanner's must agree on every shipped kind.
// Issue 13: the README said 42 kinds where the catalog has 41 plus generic. Every document that
// counts the kinds must count what the catalog holds.
TEST(CatalogLoaderTest, DocsCountTheShippedKinds) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_NE(c->Find(kGenericKind), nullptr);
  const std::string want = std::to_string(c->kinds().size() - 1) + " kinds plus";
  for (const char* doc : {"README.md", "docs/catalog.md"}) {
    std::ifstream in(std::string(LABVIRT_SOURCE_DIR) + "/" + doc);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(text.empty()) << doc;
    size_t at = text.find(" kinds plus");
    ASSERT_NE(at, std::string::npos) << doc << " does not count the kinds";
    size_t from = text.find_last_not_of("0123456789", at - 1) + 1;
    EXPECT_EQ(text.substr(from, at + 11 - from), want) << doc;
  }
}

TEST(CatalogLoaderTest, ShippedCatalogCompilesInTheReadinessScanner) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok());
  for (const auto& k : c->kinds()) {
    Status s = ValidateReadinessSpec(k.readiness);
    EXPECT_TRUE(s.ok()) << k.name << ": " << s.ToString();
    auto compiled = ReadinessPatterns::Compile(k.readiness, k.name);
    EXPECT_TRUE(compiled.ok()) << k.name << ": " << compiled.status().ToString();
  }
}

TEST(CatalogLoaderTest, ShippedCatalogKeepsSeedHardware) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok());
  const auto* n9k = c->Find("cisco_n9kv");
  ASSERT_NE(n9k, nullptr);
  EXPECT_EQ(n9k->disk_bus, "sata");
  EXPECT_EQ(n9k->nic_model, "e1000");
  EXPECT_EQ(n9k->machine, "pc-i440fx-6.2");
  EXPECT_TRUE(n9k->management_nic);
  EXPECT_EQ(n9k->cpu.disabled_features.size(), 4u);
  const auto* xr = c->Find("xrv9k");
  ASSERT_NE(xr, nullptr);
  EXPECT_EQ(xr->firmware, providers::Firmware::kUefiStateless);
  EXPECT_EQ(xr->reserved_nics, 2);
  EXPECT_EQ(xr->cpu_sockets, 1);
  EXPECT_EQ(xr->serials.size(), 4u);
  EXPECT_EQ(xr->smbios.at("product"), "Cisco IOS XRv 9000");
  const auto* iosv = c->Find("IOSV");  // aliases are case-insensitive
  ASSERT_NE(iosv, nullptr);
  EXPECT_EQ(iosv->disk_bus, "ide");
}

TEST(CatalogLoaderTest, ResolveFallsBackToGenericAndRefusesDenylisted) {
  auto c = LoadCatalog(SourceCatalogPath());
  ASSERT_TRUE(c.ok());
  auto unknown = c->Resolve("acme_router9000");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->name, "generic");
  EXPECT_NE(unknown->notes.find("acme_router9000"), std::string::npos);
  auto cat9kv = c->Resolve("cat9kv");
  ASSERT_FALSE(cat9kv.ok());
  EXPECT_EQ(cat9kv.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(cat9kv.status().message().find("q200"), std::string::npos);
  // Denylisted kinds that do have an entry use it.
  auto ftdv = c->Resolve("ftdv");
  ASSERT_TRUE(ftdv.ok());
  EXPECT_EQ(ftdv->name, "cisco_ftdv");
  EXPECT_EQ(c->Resolve("").status().code(), StatusCode::kInvalidArgument);
}

TEST(CatalogLoaderTest, DenylistWithoutEntryBlocksGeneric) {
  auto c = LoadCatalogFromString(
      Catalog(Kind("generic"), R"([{"name": "fmcv", "reason": "needs 32 GB"}])"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = c->Resolve("FMCV");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("needs 32 GB"), std::string::npos);
}

TEST(CatalogLoaderTest, RefusesBadJson) {
  ExpectRefused("{\"notes\": ", {"not valid JSON"});
  ExpectRefused("[]", {"top level", "expected an object"});
  ExpectRefused("", {"not valid JSON"});
}

TEST(CatalogLoaderTest, RefusesMissingFields) {
  ExpectRefused(R"({"kinds": [], "denylist": []})", {"notes", "missing"});
  ExpectRefused(R"({"notes": "", "denylist": []})", {"kinds", "missing"});
  ExpectRefused(R"({"notes": "", "kinds": []})", {"denylist", "missing"});
  std::string k = Kind("generic");
  std::string no_memory = k;
  no_memory.erase(no_memory.find("\"memory_mb\": 1024, "), 19);
  ExpectRefused(Catalog(no_memory), {"kinds[0] 'generic'", "memory_mb: missing"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"])")),
                {"kinds[0] 'generic'", "readiness.overall_timeout_s: missing"});
  ExpectRefused(Catalog(Kind("generic", "", R"("overall_timeout_s": 300)")),
                {"readiness.success", "is empty"});
  ExpectRefused(Catalog(R"({"vendor": "x"})"), {"kinds[0]", "name: missing"});
}

TEST(CatalogLoaderTest, RefusesWrongTypes) {
  ExpectRefused(Catalog(Kind("generic", R"(, "aliases": "a")")),
                {"kinds[0] 'generic'", "aliases", "expected an array"});
  ExpectRefused(Catalog(Kind("generic", R"(, "aliases": [1])")),
                {"aliases[0]", "expected a string"});
  ExpectRefused(Catalog(Kind("generic", R"(, "reserved_nics": "2")")),
                {"reserved_nics", "expected an integer"});
  ExpectRefused(Catalog(Kind("generic", R"(, "reserved_nics": 1.5)")),
                {"reserved_nics", "expected an integer"});
  ExpectRefused(Catalog(Kind("generic", R"(, "smbios": {"product": 3})")),
                {"smbios.product", "expected a string"});
  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_topology": [1])")),
                {"cpu_topology", "expected an object"});
  ExpectRefused(Catalog("3"), {"kinds[0]", "expected an object"});
  ExpectRefused(R"({"notes": 1, "kinds": [], "denylist": []})", {"notes", "expected a string"});
  ExpectRefused(Catalog(Kind("generic", "", R"("none": "yes", "overall_timeout_s": 300)")),
                {"readiness.none", "expected true or false"});
  ExpectRefused(Catalog(Kind("generic", R"(, "memory_sharing": "no")")),
                {"kinds[0] 'generic'", "memory_sharing: expected true or false, got a string"});
}

TEST(CatalogLoaderTest, RefusesUnknownAndDuplicateFields) {
  ExpectRefused(Catalog(Kind("generic", R"(, "memory": 1)")),
                {"kinds[0] 'generic'", "memory: unknown field"});
  ExpectRefused(Catalog(Kind("generic", R"(, "memory_mb": 2048)")), {"memory_mb: duplicate key"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 300,
                                                 "timeout": 3)")),
                {"readiness.timeout: unknown field"});
  ExpectRefused(R"({"notes": "", "kinds": [], "denylist": [], "extra": 1})",
                {"extra: unknown field"});
}

TEST(CatalogLoaderTest, RefusesOutOfRangeValues) {
  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_topology": {"sockets": 2, "cores": 2,
                                                                 "threads": 1})")),
                {"cpu_topology", "is not vcpus 1"});
  std::string big = Kind("generic");
  big.replace(big.find("\"memory_mb\": 1024"), 17, "\"memory_mb\": 99999999");
  ExpectRefused(Catalog(big), {"kinds[0] 'generic'", "memory_mb: 99999999 is out of range"});
  std::string nics = Kind("generic");
  nics.replace(nics.find("\"default_nics\": 4"), 17, "\"default_nics\": 9");
  ExpectRefused(Catalog(nics), {"default_nics: 9 is out of range 0..8"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 5)")),
                {"readiness.overall_timeout_s: 5 is out of range"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 60,
                                                 "idle_timeout_s": 61)")),
                {"readiness.idle_timeout_s: 61"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 60,
                                                 "retries": 11)")),
                {"readiness.retries"});
  ExpectRefused(Catalog(Kind("generic", R"(, "shutdown_timeout_s": 0)")),
                {"shutdown_timeout_s: 0 is out of range"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 60,
      "progress": [{"pattern": "y", "percent": 100, "label": "l"}])")),
                {"readiness.progress[0].percent: 100"});
}

TEST(CatalogLoaderTest, RefusesBadAllowedValues) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string k = Kind("generic");
    k.replace(k.find(from), from.size(), to);
    return Catalog(k);
  };
  ExpectRefused(with("\"firmware\": \"bios\"", "\"firmware\": \"efi\""), {"firmware: 'efi'"});
  ExpectRefused(with("\"machine\": \"q35\"", "\"machine\": \"virt\""), {"machine: 'virt'"});
  ExpectRefused(with("\"machine\": \"q35\"", "\"machine\": \"pc-q35-x\""), {"machine"});
  ExpectRefused(with("\"disk_bus\": \"virtio\"", "\"disk_bus\": \"ide\""),
                {"disk_bus: ide needs an i440fx machine"});
  ExpectRefused(with("\"disk_cache\": \"none\"", "\"disk_cache\": \"writeback\""),
                {"disk_io: native needs disk_cache none"});
  ExpectRefused(with("\"nic_model\": \"virtio\"", "\"nic_model\": \"ne2k\""),
                {"nic_model: 'ne2k'"});
  ExpectRefused(with("\"cpu_mode\": \"host-model\"", "\"cpu_mode\": \"custom\""), {"cpu_model"});
  ExpectRefused(Catalog(Kind("generic", R"(, "serials": ["tcp"])")), {"serials[0]", "'pty'"});
  ExpectRefused(Catalog(Kind("generic", R"(, "smbios": {"bios": "x"})")), {"smbios", "'bios'"});
  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_disabled_features": ["sm ep"])")),
                {"cpu_disabled_features[0]"});
  ExpectRefused(Catalog(Kind("gen eric")), {"name has 0x20 at position 3"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["x"], "overall_timeout_s": 60,
      "failure": [{"pattern": "y", "action": "reboot", "label": "l"}])")),
                {"readiness.failure[0].action: 'reboot'"});
}

TEST(CatalogLoaderTest, RefusesDuplicateKindsAndAliases) {
  ExpectRefused(Catalog(Kind("generic") + "," + Kind("generic")),
                {"kinds[1] 'generic'", "already used by kinds[0] 'generic'"});
  ExpectRefused(Catalog(Kind("generic", R"(, "aliases": ["r"])") + "," + Kind("R")),
                {"kinds[1] 'R'", "'R' is already used by kinds[0]"});
  ExpectRefused(Catalog(Kind("generic"), R"([{"name": "a", "reason": "x"},
                                             {"name": "b", "aliases": ["A"], "reason": "y"}])"),
                {"denylist[1] 'b'", "already used by denylist[0]"});
  ExpectRefused(Catalog(Kind("generic"), R"([{"name": "a"}])"), {"denylist[0]", "reason: missing"});
}

TEST(CatalogLoaderTest, RefusesDollarAnchoredAndBrokenPatterns) {
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["Router>$"], "overall_timeout_s": 60)")),
                {"kinds[0] 'generic'", "readiness.success[0]", "ends in '$'", "no newline"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["ok", ""], "overall_timeout_s": 60)")),
                {"readiness.success[1]", "empty"});
  // An escaped dollar is a literal and fine.
  EXPECT_TRUE(
      LoadCatalogFromString(
          Catalog(Kind("generic", "", R"("success": ["cost \\$"], "overall_timeout_s": 60)")))
          .ok());
#ifdef LABVIRT_HAVE_HYPERSCAN
  ExpectRefused(
      Catalog(Kind("generic", "", R"("success": ["(unclosed"], "overall_timeout_s": 60)")),
      {"readiness.success[0]", "not a valid Hyperscan regex"});
  ExpectRefused(Catalog(Kind("generic", "", R"("success": ["a*"], "overall_timeout_s": 60)")),
                {"readiness.success[0]", "empty text"});
#endif
}

TEST(CatalogLoaderTest, RefusesCatalogWithoutGeneric) {
  ExpectRefused(Catalog(Kind("linux")), {"no 'generic' entry"});
}

TEST(CatalogLoaderTest, MissingFileNamesThePath) {
  auto c = LoadCatalog("/nonexistent/catalog.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/catalog.json"), std::string::npos);
}

TEST(CatalogLoaderTest, DefaultPathHonoursEnvironment) {
  ::setenv("LABVIRT_CATALOG", "/tmp/x.json", 1);
  EXPECT_EQ(DefaultCatalogPath(), "/tmp/x.json");
  ::unsetenv("LABVIRT_CATALOG");
  EXPECT_FALSE(DefaultCatalogPath().empty());
}

TEST(CatalogCpuTest, PerVendorChoicesLoadAndBadOnesAreRefusedWithTheField) {
  auto ok = LoadCatalogFromString(Catalog(
      Kind("generic",
           R"(, "cpu_fallback_model": "Nehalem", "cpu_vendor": {"amd": {"cpu_mode": "custom",)"
           R"( "cpu_model": "EPYC", "cpu_disabled_features": ["svm"]}})")));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto k = ok->Resolve("generic");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->cpu.fallback_model, "Nehalem");
  EXPECT_EQ(providers::CpuSpecFor(*k, "amd").model, "EPYC");
  EXPECT_EQ(providers::CpuSpecFor(*k, "amd").fallback_model, "Nehalem");
  EXPECT_EQ(providers::CpuSpecFor(*k, "intel").mode, k->cpu.mode);

  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_vendor": {"via": {"cpu_mode": "host-model"}})")),
                {"cpu_vendor"});
  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_vendor": {"amd": {"cpu_mode": "custom"}})")),
                {"cpu_vendor.amd.cpu_model"});
  ExpectRefused(
      Catalog(Kind("generic",
                   R"(, "cpu_vendor": {"amd": {"cpu_mode": "host-model", "cpu_mdoe": "x"}})")),
      {"cpu_mdoe"});
  ExpectRefused(Catalog(Kind("generic", R"(, "cpu_fallback_model": "no such")")),
                {"cpu_fallback_model"});
}

// A container kind: provider docker, memory and vCPUs but no machine, disks or CPU model.
std::string ContainerKind(const std::string& container, const std::string& extra = "") {
  return R"({"name": "ctr", "vendor": "V", "provider": "docker", "memory_mb": 64, "vcpus": 1,
    "max_nics": 8, "default_nics": 2, "interface_prefix": "Ethernet", "interface_start": 1,
    "container": )" +
         container + R"(, "readiness": {"success": ["ready"], "overall_timeout_s": 60},
    "admission_weight": 0.1, "notes": "")" +
         extra + "}";
}

TEST(CatalogContainerTest, ContainerKindsLoadAndBadOnesAreRefusedWithTheField) {
  auto ok = LoadCatalogFromString(
      Catalog(Kind("generic") + "," +
              ContainerKind(R"({"cmd": ["/init"], "env": {"A": "1"}, "capabilities": ["NET_ADMIN"],
                        "interface_prefix": "eth", "interface_start": 1,
                        "interfaces_env": "LABVIRT_INTFS"})")));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto k = ok->Resolve("ctr");
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(providers::IsContainerKind(*k));
  EXPECT_EQ(k->container.cmd, std::vector<std::string>{"/init"});
  EXPECT_EQ(k->container.interfaces_env, "LABVIRT_INTFS");
  EXPECT_EQ(k->interface_prefix, "Ethernet");
  EXPECT_FALSE(providers::IsContainerKind(*ok->Resolve("generic")));

  const std::string base = R"("interface_prefix": "eth", "interface_start": 1)";
  ExpectRefused(Catalog(ContainerKind("{" + base + "}", R"(, "machine": "q35")")),
                {"machine", "unknown field"});
  ExpectRefused(Catalog(ContainerKind("{}")), {"container.interface_prefix", "missing"});
  ExpectRefused(Catalog(ContainerKind(R"({"capabilities": ["CAP_NET_ADMIN"], )" + base + "}")),
                {"container.capabilities[0]", "CAP_"});
  ExpectRefused(Catalog(ContainerKind(R"({"capabilities": ["net admin"], )" + base + "}")),
                {"container.capabilities[0]"});
  ExpectRefused(
      Catalog(ContainerKind(R"({"privileged": true, "capabilities": ["NET_RAW"], )" + base + "}")),
      {"container.capabilities", "privileged"});
  ExpectRefused(Catalog(ContainerKind(R"({"env": {"A=B": "1"}, )" + base + "}")),
                {"container.env"});
  ExpectRefused(Catalog(ContainerKind(R"({"cmd": ["a\nb"], )" + base + "}")),
                {"container.cmd[0]", "control character"});
  ExpectRefused(Catalog(ContainerKind(R"({"interface_prefix": "e th", "interface_start": 1})")),
                {"container.interface_prefix"});
  ExpectRefused(Catalog(ContainerKind(R"({"shell": "sh", )" + base + "}")),
                {"container.shell", "unknown field"});
  ExpectRefused(
      Catalog(ContainerKind("{" + base + "}", R"(, "day0": {"method": "iso", "max_bytes": 10})")),
      {"day0.method", "container"});
  ExpectRefused(Catalog(Kind("generic", R"(, "provider": "lxd")")), {"provider", "lxd"});
}

TEST(CatalogContainerTest, StopSignalAndSysctlsAreReadAndBadOnesRefusedWithTheField) {
  const std::string base = R"("interface_prefix": "eth", "interface_start": 1)";
  auto ok = LoadCatalogFromString(
      Catalog(Kind("generic") + "," +
              ContainerKind(R"({"stop_signal": "SIGRTMIN+3", "sysctls": {"net.ipv4.ip_forward":
                        "0", "kernel.shmmax": "65536"}, )" +
                            base + "}")));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto k = ok->Resolve("ctr");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->container.stop_signal, "SIGRTMIN+3");
  EXPECT_EQ(k->container.sysctls.at("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(k->container.sysctls.at("kernel.shmmax"), "65536");

  for (const char* bad :
       {"SIGKILL", "TERM", "SIGRTMIN+0", "SIGRTMIN+16", "SIGRTMIN+x", "sigterm", "SIGRTMIN+"}) {
    ExpectRefused(
        Catalog(ContainerKind(R"({"stop_signal": ")" + std::string(bad) + R"(", )" + base + "}")),
        {"container.stop_signal", bad});
  }
  ExpectRefused(Catalog(ContainerKind(R"({"stop_signal": 15, )" + base + "}")),
                {"container.stop_signal"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"kernel.panic": "1"}, )" + base + "}")),
                {"container.sysctls.kernel.panic", "namespaced"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"vm.swappiness": "1"}, )" + base + "}")),
                {"container.sysctls.vm.swappiness", "namespaced"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"net.a b": "1"}, )" + base + "}")),
                {"container.sysctls.net.a b", "character"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"net.x": ""}, )" + base + "}")),
                {"container.sysctls.net.x", "no value"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"net.x": "1\n2"}, )" + base + "}")),
                {"container.sysctls.net.x", "control character"});
  ExpectRefused(Catalog(ContainerKind(R"({"sysctls": {"net.x": 1}, )" + base + "}")),
                {"container.sysctls"});
}

TEST(CatalogContainerTest, ExecConsoleNeedsItsCommandAndTtyHasNone) {
  const std::string base = R"("interface_prefix": "eth", "interface_start": 1)";
  auto ok = LoadCatalogFromString(
      Catalog(Kind("generic") + "," +
              ContainerKind(R"({"console": "exec", "console_cmd": ["cli"], )" + base + "}")));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto k = ok->Resolve("ctr");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->container.console, "exec");
  EXPECT_EQ(k->container.console_cmd, std::vector<std::string>{"cli"});
  auto tty =
      LoadCatalogFromString(Catalog(Kind("generic") + "," + ContainerKind("{" + base + "}")));
  ASSERT_TRUE(tty.ok()) << tty.status().ToString();
  EXPECT_EQ(tty->Resolve("ctr")->container.console, "tty");

  ExpectRefused(Catalog(ContainerKind(R"({"console": "ssh", )" + base + "}")),
                {"container.console", "tty, exec"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": "", )" + base + "}")), {"container.console"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": 1, )" + base + "}")), {"container.console"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": "exec", )" + base + "}")),
                {"container.console_cmd", "needs"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": "exec", "console_cmd": [], )" + base + "}")),
                {"container.console_cmd", "needs"});
  ExpectRefused(Catalog(ContainerKind(R"({"console_cmd": ["sh"], )" + base + "}")),
                {"container.console_cmd", "exec"});
  ExpectRefused(
      Catalog(ContainerKind(R"({"console": "exec", "console_cmd": ["a\u0007"], )" + base + "}")),
      {"container.console_cmd[0]", "control character"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": "exec", "console_cmd": [""], )" + base + "}")),
                {"container.console_cmd[0]", "empty"});
  ExpectRefused(Catalog(ContainerKind(R"({"console": "exec", "console_cmd": "sh", )" + base + "}")),
                {"container.console_cmd"});
}

}  // namespace
}  // namespace labvirt::engine
