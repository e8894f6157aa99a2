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
  // Admission: the ceiling comes from the core count (0 here); the gates' defaults are measured
  // choices (docs/benchmarks.md), pinned so a change is deliberate.
  EXPECT_EQ(f->boot_budget, 0);
  EXPECT_FALSE(f->boot_slot_ready);
  EXPECT_EQ(f->mem_reserve_mib, 1024);
  EXPECT_EQ(f->mem_pressure, 10);
  EXPECT_EQ(f->cpu_pressure, 100);
  EXPECT_EQ(f->libvirt_queue, 4);
}

TEST(FlagsTest, AdmissionFlags) {
  auto f = ParseFlags({"--boot-budget", "2", "--boot-slot", "ready", "--mem-reserve=0",
                       "--mem-pressure", "25", "--cpu-pressure", "60", "--libvirt-queue", "0"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->boot_budget, 2);
  EXPECT_TRUE(f->boot_slot_ready);
  EXPECT_EQ(f->mem_reserve_mib, 0);
  EXPECT_EQ(f->mem_pressure, 25);
  EXPECT_EQ(f->cpu_pressure, 60);
  EXPECT_EQ(f->libvirt_queue, 0);
  EXPECT_FALSE(ParseFlags({"--boot-slot", "booting"})->boot_slot_ready);
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

TEST(FlagsTest, LoopNice) {
  EXPECT_EQ(ParseFlags({})->loop_priority.nice, -10);
  EXPECT_EQ(ParseFlags({"--nice", "0"})->loop_priority.nice, 0);
  EXPECT_EQ(ParseFlags({"--nice", "-20"})->loop_priority.nice, -20);
  EXPECT_EQ(ParseFlags({"--nice=19"})->loop_priority.nice, 19);
}

TEST(FlagsTest, LoopRealtime) {
  EXPECT_EQ(ParseFlags({})->loop_priority.realtime, 1);
  EXPECT_EQ(ParseFlags({"--realtime", "1"})->loop_priority.realtime, 1);
  EXPECT_EQ(ParseFlags({"--realtime", "0"})->loop_priority.realtime, 0);
  EXPECT_EQ(ParseFlags({"--realtime=99"})->loop_priority.realtime, 99);
  auto over = ParseFlags({"--realtime", "100"});
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("realtime"), std::string::npos) << over.status().message();
  EXPECT_FALSE(ParseFlags({"--realtime", "-1"}).ok());
  EXPECT_FALSE(ParseFlags({"--realtime", "fifo"}).ok());
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
      {{"--boot-budget", "0"}, "--boot-budget: expected an integer 1-1024, got '0'"},
      {{"--boot-slot", "start"}, "--boot-slot: expected booting or ready, got 'start'"},
      {{"--mem-reserve", "-1"}, "--mem-reserve: expected an integer 0-1048576, got '-1'"},
      {{"--mem-pressure", "0"}, "--mem-pressure: expected an integer 1-100, got '0'"},
      {{"--cpu-pressure", "101"}, "--cpu-pressure: expected an integer 1-100, got '101'"},
      {{"--cpu-pressure", "60%"}, "--cpu-pressure: expected an integer 1-100, got '60%'"},
      {{"--libvirt-queue", "x"}, "--libvirt-queue: expected an integer 0-1024, got 'x'"},
      {{"--nice", "-21"}, "--nice: expected an integer -20-19, got '-21'"},
      {{"--nice", "20"}, "--nice: expected an integer -20-19, got '20'"},
      {{"--nice", "high"}, "--nice: expected an integer -20-19, got 'high'"},
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

TEST(FlagsTest, HelpAndVersionSwitches) {
  auto f = ParseFlags({"--version", "-h"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->show_version);
  EXPECT_TRUE(f->show_help);
  EXPECT_TRUE(ParseFlags({"--help"})->show_help);
  for (const char* bad : {"--help=1", "--version=yes"}) {
    auto r = ParseFlags({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(
        r.status().message(),
        "unknown flag " + std::string(bad).substr(0, std::string(bad).find('=')) + " (see --help)");
  }
  EXPECT_EQ(ParseFlags({"-x"}).status().message(), "unexpected argument '-x' (see --help)");
  EXPECT_EQ(ParseFlags({"--"}).status().message(), "unknown flag -- (see --help)");
  EXPECT_EQ(ParseFlags({"--workers", "3", "--workers"}).status().message(),
            "--workers: missing value");
  EXPECT_EQ(ParseFlags({"--socket="}).status().message(),
            "--socket: must be an absolute path, got ''");
  EXPECT_EQ(ParseFlags({"--docker", "docker.sock"}).status().message(),
            "--docker: expected an absolute socket path or 'none', got 'docker.sock'");
  EXPECT_EQ(ParseFlags({"--docker", "none"})->docker, "none");
  EXPECT_EQ(ParseFlags({"--mgmt", "off"}).status().message(),
            "--mgmt: expected on or none, got 'off'");
  EXPECT_EQ(ParseFlags({"--mgmt", "none"})->mgmt, "none");
  EXPECT_EQ(ParseFlags({"--mgmt-pool", "fd00::/48"}).status().message(),
            "--mgmt-pool: expected an IPv4 prefix such as 10.250.0.0/16, got 'fd00::/48'");
  EXPECT_EQ(ParseFlags({"--mgmt-pool6", "10.0.0.0/8"}).status().message(),
            "--mgmt-pool6: expected an IPv6 prefix such as fd6c:7600::/48, got '10.0.0.0/8'");
  EXPECT_EQ(ParseFlags({"--mgmt-pool", "10.9.0.0/16"})->mgmt_pool, "10.9.0.0/16");
}

TEST(FlagsTest, UsageTextIsUnchanged) {
  EXPECT_EQ(FlagsUsage(), R"(usage: labvirtd [flags]
  --socket PATH        control socket (default /run/labvirt/labvirtd.sock)
  --libvirt-uri URI    libvirt connection (default qemu:///system)
  --ovsdb ADDR         OVSDB server, unix:/PATH or tcp:HOST:PORT (default unix:/var/run/openvswitch/db.sock)
  --docker PATH        dockerd's API socket for container nodes, or 'none' (default /var/run/docker.sock)
  --bridge NAME        OVS bridge for VM NICs (default arch-ovs)
  --mgmt on|none       management segments: each lab's management NICs reachable from the host
                       (default on; docs/mgmt.md)
  --mgmt-pool CIDR     IPv4 pool of the labs' management /24s (default 10.250.0.0/16)
  --mgmt-pool6 CIDR    IPv6 pool of the labs' management /64s (default fd6c:7600::/48)
  --dnsmasq FILE       the DHCP server of management segments (default /usr/sbin/dnsmasq)
  --image-root DIR     base images are taken only from under this directory (default /var/lib/labvirt/images)
  --bind-root DIR      container nodes' binds are taken only from under this directory
                       (default /var/lib/labvirt/binds)
  --state-dir DIR      overlays and state (default /var/lib/labvirt)
  --instance NAME      this daemon's instance: it adopts and cleans only its own instance's
                       domains and ports (default: "default" with the default --state-dir,
                       else derived from --state-dir)
  --catalog FILE       device catalog (JSON)
  --emulator FILE      QEMU binary for every domain (default: libvirt's; tests use a wrapper)
  --accel auto|tcg     auto (default): KVM where /dev/kvm opens, else TCG; tcg: always TCG
                       (to check the TCG path on a KVM host)
  --log-level LEVEL    debug|info|warn|error (default info)
  --workers N          threads for blocking libvirt calls, 1-64 (default 4; raised to cover
                       every start the boot budget admits at once, plus 4)
  --boot-budget N      ceiling of weighted VM starts at once, 1-1024 (default: 4 per host core;
                       docs/benchmarks.md)
  --boot-slot WHEN     when a started node gives its weight back: booting (default; its VM runs
                       with the console attached) or ready
  --mem-reserve MIB    memory kept free: a boot waits until MemAvailable minus the RAM of boots
                       in flight covers its RAM plus this, 0-1048576 (default 1024)
  --mem-pressure PCT   a boot waits while memory PSI (some, last second) is at or above this,
                       1-100, 100: off (default 10)
  --cpu-pressure PCT   a boot waits while CPU PSI (some, last second) is at or above this,
                       1-100, 100: off (default 100; docs/benchmarks.md)
  --libvirt-queue N    a boot waits while more libvirt calls than this wait for a worker,
                       0-1024 (default 4)
  --nice N             the event loop thread's nice value, -20 to 19; 0: as started (default -10:
                       consoles and events wait less for a core behind busy guests)
  --realtime N         the event loop thread's SCHED_FIFO priority, 1-99 (1: a readiness event waits
                       for no guest; the default); 0: the fair scheduler at --nice
  --version            print the version and exit
  --help               print this text and exit
)");
}

}  // namespace
}  // namespace labvirt::engine
