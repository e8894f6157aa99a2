#include "engine/daemon/flags.h"

#include "gtest/gtest.h"

namespace labvirt::engine {
namespace {

TEST(FlagsTest, Defaults) {
  auto f = ParseFlags({});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->socket_path, "/run/labvirt/labvirtd.sock");
  EXPECT_EQ(f->libvirt_uri, "qemu:///system");
  EXPECT_EQ(f->bridge, "arch-ovs");
}

TEST(FlagsTest, BothValueForms) {
  auto f = ParseFlags({"--socket", "/tmp/a.sock", "--bridge=br0", "--workers=8", "--ovsdb",
                       "tcp:127.0.0.1:6640", "--log-level", "debug"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->socket_path, "/tmp/a.sock");
  EXPECT_EQ(f->bridge, "br0");
  EXPECT_EQ(f->workers, 8);
  EXPECT_EQ(f->ovsdb, "tcp:127.0.0.1:6640");
  EXPECT_EQ(f->log_level, LogLevel::kDebug);
}

TEST(FlagsTest, EmulatorAndAccel) {
  auto f = ParseFlags({"--emulator", "/usr/local/bin/qemu-wrap", "--accel", "tcg"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->emulator, "/usr/local/bin/qemu-wrap");
  EXPECT_TRUE(f->force_tcg);
  EXPECT_FALSE(ParseFlags({"--accel=auto"})->force_tcg);
  EXPECT_FALSE(ParseFlags({})->force_tcg);
  auto bad = ParseFlags({"--accel", "kvm-please"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--accel"), std::string::npos);
  EXPECT_FALSE(ParseFlags({"--emulator", "qemu"}).ok()) << "relative paths are refused";
}

// Issue 13: each daemon is an instance; two state dirs are two instances unless told otherwise.
TEST(FlagsTest, InstanceIsNamedOrDerivedFromTheStateDir) {
  EXPECT_EQ(InstanceName(*ParseFlags({})), "default");
  EXPECT_EQ(InstanceName(*ParseFlags({"--state-dir", "/var/lib/labvirt/"})), "default");
  std::string a = InstanceName(*ParseFlags({"--state-dir", "/tmp/a/state"}));
  std::string b = InstanceName(*ParseFlags({"--state-dir", "/tmp/b/state"}));
  EXPECT_EQ(a.rfind("sd-", 0), 0u) << a;
  EXPECT_EQ(a.size(), 11u) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, InstanceName(*ParseFlags({"--state-dir", "/tmp/a/./state/"}))) << "same directory";
  EXPECT_EQ(InstanceName(*ParseFlags({"--state-dir", "/tmp/a/state", "--instance", "lab-2"})),
            "lab-2");
  EXPECT_EQ(InstanceName(*ParseFlags({"--instance", "default", "--state-dir", "/srv/x"})),
            "default");
  EXPECT_FALSE(ParseFlags({"--instance", "a b"}).ok());
  EXPECT_FALSE(ParseFlags({"--instance", ""}).ok());
}

struct BadCase {
  std::vector<std::string> args;
  std::string mention;
};

TEST(FlagsTest, BadInputNamesTheFlag) {
  const std::vector<BadCase> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--socket"}, "--socket: missing value"},
      {{"--socket", "relative.sock"}, "--socket: must be an absolute path"},
      {{"--socket", "/" + std::string(200, 'a')}, "longer than 107"},
      {{"--bridge", "this-name-is-too-long"}, "--bridge: must be 1-15"},
      {{"--bridge", "br;rm"}, "--bridge: only letters"},
      {{"--workers", "0"}, "--workers: expected an integer 1-64"},
      {{"--workers", "4x"}, "--workers"},
      {{"--ovsdb", "db.sock"}, "--ovsdb: expected unix:/PATH"},
      {{"--ovsdb", "tcp:host:99999"}, "--ovsdb"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--libvirt-uri", "nouri"}, "--libvirt-uri"},
      {{"stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& c : cases) {
    auto f = ParseFlags(c.args);
    ASSERT_FALSE(f.ok()) << c.args[0];
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.mention), std::string::npos)
        << f.status().message() << " should mention " << c.mention;
    EXPECT_EQ(f.status().message().find('\n'), std::string::npos);  // one line
  }
}

}  // namespace
}  // namespace labvirt::engine
