// Day-0 config in the catalog (day0 and credentials: loaded, refused naming the field) and the
// per-node check of a startup config against its kind (engine/catalog/startup_config.h).
#include "engine/catalog/startup_config.h"

#include <string>

#include "engine/catalog/catalog.h"
#include "engine/catalog/catalog_overrides.h"
#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

std::string CatalogWith(const std::string& extra) {
  return R"({"notes": "test", "kinds": [{"name": "generic", "vendor": "V", "memory_mb": 1024,
    "vcpus": 1, "machine": "q35", "cpu_mode": "host-model", "firmware": "bios",
    "disk_bus": "virtio", "disk_cache": "none", "disk_io": "native", "nic_model": "virtio",
    "max_nics": 8, "default_nics": 4, "interface_prefix": "eth", "interface_start": 0,
    "readiness": {"success": ["login:"], "overall_timeout_s": 300}, "admission_weight": 1.0,
    "notes": "")" +
         extra + R"(}], "denylist": []})";
}

std::string Refusal(const std::string& extra) {
  auto c = LoadCatalogFromString(CatalogWith(extra), "t.json");
  return c.ok() ? "loaded" : c.status().message();
}

TEST(CatalogDay0Test, LoadsWithDefaultsAndCredentials) {
  auto c = LoadCatalogFromString(CatalogWith(
      R"(, "day0": {"method": "fat", "volume_label": "CFG", "file": "ios_config.txt",
                    "max_bytes": 1000}, "credentials": {"username": "admin", "password": ""})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const providers::DeviceKind& k = c->kinds()[0];
  EXPECT_EQ(k.day0.method, "fat");
  EXPECT_EQ(k.day0.attach, "disk");  // the default for fat
  EXPECT_EQ(k.day0.wrapper, "none");
  EXPECT_EQ(k.credentials.username, "admin");
}

TEST(CatalogDay0Test, RefusesBadEntriesNamingTheField) {
  const std::string fat = R"("method": "fat", "volume_label": "CFG", "file": "c.txt")";
  EXPECT_NE(Refusal(R"(, "day0": {"method": "nbd", "max_bytes": 1})").find("day0.method: 'nbd'"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "fat", "file": "c.txt", "max_bytes": 1})")
                .find("day0.volume_label"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "fat", "volume_label": "TWELVECHARSX",
                                  "file": "c.txt", "max_bytes": 1})")
                .find("day0.volume_label: must have 1..11"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "iso", "volume_label": "a b", "file": "c.txt",
                                  "max_bytes": 1})")
                .find("day0.volume_label: 'a b'"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "iso", "volume_label": "c", "file": "../x",
                                  "max_bytes": 1})")
                .find("day0.file"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "max_bytes": 0})").find("day0.max_bytes: 0"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "max_bytes": 99999999})").find("day0.max_bytes"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "attach": "cdrom", "max_bytes": 9})")
                .find("day0.attach: 'cdrom'"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "wrapper": "zip", "max_bytes": 9})")
                .find("day0.wrapper: 'zip'"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "wrapper": "tgz", "max_bytes": 9})")
                .find("day0.archive_path: must have 1..99"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat +
                    R"(, "wrapper": "tgz", "archive_path": "../x", "max_bytes": 9})")
                .find("day0.archive_path: '../x' must be relative"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {)" + fat + R"(, "archive_path": "a", "max_bytes": 9})")
                .find("day0.archive_path: is only for wrapper tgz"),
            std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "console", "file": "x", "max_bytes": 9})")
                .find("day0: a console paste has no"),
            std::string::npos);
  EXPECT_NE(
      Refusal(R"(, "day0": {)" + fat + R"(, "max_bytes": 9, "label": "x"})").find("day0.label"),
      std::string::npos);  // unknown field
  EXPECT_NE(Refusal(R"(, "credentials": {"username": "", "password": "x"})")
                .find("credentials.username: is empty"),
            std::string::npos);
}

TEST(CatalogCliTest, LoadsAndRefusesBadScriptsNamingTheField) {
  const std::string ok = R"(, "cli": {"prompt": "[>#] ?$", "setup": ["enable"],
      "answers": [{"expect": "\\[confirm\\]$", "send": ""}], "show_config": "show run"})";
  auto c = LoadCatalogFromString(CatalogWith(ok), "t.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kinds()[0].cli.setup, std::vector<std::string>{"enable"});
  EXPECT_EQ(c->kinds()[0].cli.answers[0].expect, "\\[confirm\\]$");
  EXPECT_EQ(c->kinds()[0].cli.line_timeout_s, 30);
  struct Case {
    std::string cli, error;
  };
  const Case cases[] = {
      {R"({"setup": ["x"]})", "cli.prompt"},  // required
      {R"({"prompt": "(unclosed"})", "cli.prompt"},
      {R"({"prompt": "#$", "errors": ["a", "(b"]})", "cli.errors[1]"},
      {R"({"prompt": "#$", "setup": ["two\nlines"]})", "cli.setup[0]: contains a control"},
      {R"({"prompt": "#$", "login_prompt": "login:"})", "cli.password_prompt: is required"},
      {R"({"prompt": "#$", "line_timeout_s": 0})", "cli.line_timeout_s: 0 is out of range"},
      {R"({"prompt": "#$", "answers": [{"expect": "x"}]})", "cli.answers[0].send"},
      {R"({"prompt": "#$", "colour": 1})", "cli.colour"},
  };
  for (const Case& k : cases) {
    EXPECT_NE(Refusal(R"(, "cli": )" + k.cli).find(k.error), std::string::npos)
        << k.cli << " -> " << Refusal(R"(, "cli": )" + k.cli);
  }
  // A console-paste kind needs a script that can enter config mode.
  EXPECT_NE(
      Refusal(R"(, "day0": {"method": "console", "max_bytes": 9})").find("cli.prompt: is required"),
      std::string::npos);
  EXPECT_NE(Refusal(R"(, "day0": {"method": "console", "max_bytes": 9}, "cli": {"prompt": "#$"})")
                .find("cli.config_enter: is required"),
            std::string::npos);
}

TEST(CatalogCliTest, ShippedConsoleKindsCompile) {
  auto c = LoadCatalog(DefaultCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  int with_cli = 0;
  for (const auto& k : c->kinds()) {
    if (k.cli.prompt.empty()) continue;
    ++with_cli;
    EXPECT_FALSE(k.cli.show_config.empty()) << k.name;
  }
  EXPECT_GE(with_cli, 10);
}

TEST(CatalogDay0Test, ShippedKindsCarryTheirMedia) {
  auto c = LoadCatalog(DefaultCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto iosv = c->Resolve("iosv");
  ASSERT_TRUE(iosv.ok());
  EXPECT_EQ(iosv->day0.method, "fat");
  EXPECT_EQ(iosv->day0.file, "ios_config.txt");
  auto csr = c->Resolve("csr1000v");
  ASSERT_TRUE(csr.ok());
  EXPECT_EQ(csr->day0.method, "iso");
  EXPECT_EQ(csr->day0.file, "iosxe_config.txt");
  auto veos = c->Resolve("veos");
  ASSERT_TRUE(veos.ok());
  EXPECT_EQ(veos->day0.method, "console");
  EXPECT_EQ(veos->credentials.username, "admin");
}

providers::DeviceKind FatKind(int max_bytes) {
  providers::DeviceKind k;
  k.name = "cisco_iosv";
  k.day0 = {"fat", "disk", "CFG", "ios_config.txt", "none", max_bytes, ""};
  return k;
}

TEST(StartupConfigTest, AcceptsTextUpToTheKindsLimit) {
  EXPECT_TRUE(CheckStartupConfig(FatKind(16), "r1", "hostname r1\r\n\tx").ok());
  EXPECT_TRUE(CheckStartupConfig(FatKind(20), "r1", "description Zürich").ok());
  Status big = CheckStartupConfig(FatKind(16), "r1", std::string(17, 'x'));
  EXPECT_EQ(big.message(),
            "node r1: startup config is 17 bytes; kind cisco_iosv takes at most 16 (fat "
            "ios_config.txt)");
}

TEST(StartupConfigTest, RefusesNamingTheNodeAndTheCause) {
  auto msg = [](const providers::DeviceKind& k, std::string_view text) {
    return CheckStartupConfig(k, "r7", text).message();
  };
  EXPECT_NE(msg(FatKind(99), "").find("node r7: startup config is empty"), std::string::npos);
  EXPECT_NE(msg(FatKind(99), std::string("a\0b", 3)).find("control byte 0 at offset 1"),
            std::string::npos);
  EXPECT_NE(msg(FatKind(99), "ok\x1b[0m").find("control byte 27 at offset 2"), std::string::npos);
  EXPECT_NE(msg(FatKind(99), "caf\xe9").find("not UTF-8 text (invalid byte at offset 3)"),
            std::string::npos);
  providers::DeviceKind none;
  none.name = "linux";
  EXPECT_NE(msg(none, "x").find("node r7: kind linux takes no startup config"), std::string::npos);
  providers::DeviceKind console = FatKind(99);
  console.day0.method = "console";
  EXPECT_EQ(msg(console, "hostname r7\n"), "");  // console-paste kinds take configs now
  EXPECT_NE(msg(console, "ok\n" + std::string(1025, 'x') + "\n")
                .find("node r7: startup config line 2 is 1025 bytes; kind"),
            std::string::npos);
  EXPECT_NE(msg(console, "ok\n" + std::string(1025, 'x')).find("at most 1024 bytes a line"),
            std::string::npos);
}

TEST(StartupConfigTest, FirstInvalidUtf8FindsEveryKindOfBadSequence) {
  EXPECT_EQ(FirstInvalidUtf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("Zürich — 東京 🚀"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("a\xc0\xaf"), 1u);         // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("ab\xed\xa0\x80"), 2u);    // a surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("xyz\xe2\x82"), 3u);       // truncated
  EXPECT_EQ(FirstInvalidUtf8("\x80"), 0u);              // a lone continuation byte
}

TEST(StartupConfigTest, NodeObjectConfigStates) {
  providers::DeviceKind k = FatKind(9);
  EXPECT_EQ(StartupConfigJson(k, {}), R"({"method":"fat","state":"none","bytes":0})");
  EXPECT_EQ(StartupConfigJson(k, {"attached", 5, 0, 0, ""}),
            R"({"method":"fat","state":"attached","bytes":5})");
  EXPECT_EQ(StartupConfigJson(k, {"failed", 5, 0, 0, "disk full"}),
            R"({"method":"fat","state":"failed","bytes":5,"error":"disk full"})");
  k.day0.method = "console";
  EXPECT_EQ(StartupConfigJson(k, {"applying", 40, 3, 1, ""}),
            R"({"method":"console","state":"applying","bytes":40,"lines":3,"lines_done":1})");
}

TEST(StartupConfigTest, Day0SpecJsonShowsTheMediumButNotThePassword) {
  providers::DeviceKind k = FatKind(9);
  k.credentials = {"admin", "secret"};
  EXPECT_EQ(Day0SpecJson(k),
            R"({"method":"fat","attach":"disk","volume_label":"CFG","file":"ios_config.txt",)"
            R"("wrapper":"none","max_bytes":9,"username":"admin","password_set":true})");
  providers::DeviceKind none;
  EXPECT_EQ(Day0SpecJson(none), R"({"method":"","username":"","password_set":false})");
}

TEST(StartupConfigTest, CredentialsAreOverriddenPerNode) {
  auto c = LoadCatalog(DefaultCatalogPath());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto k = c->Resolve("n9kv");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->credentials.username, "admin");
  NodeOverrides o;
  o.username = "lab";
  o.password = "s3cret";
  auto applied = ApplyOverrides(*k, o);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->credentials.username, "lab");
  EXPECT_EQ(applied->credentials.password, "s3cret");
  auto back = OverridesFromJson(OverridesToJson(o));  // kept in the domain metadata
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->username, "lab");
  EXPECT_EQ(back->password, "s3cret");
}

}  // namespace
}  // namespace labvirt::engine
