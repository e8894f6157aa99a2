// The Docker API documents the docker provider writes and reads.
#include "providers/docker/docker_json.h"

#include <simdjson.h>

#include "gtest/gtest.h"

namespace labvirt::providers::docker {
namespace {

ContainerDefinition Def() {
  ContainerDefinition d;
  d.name = "lv-lab-c1-0123abcd";
  d.image = "labvirt/linux-fixture:1";
  d.cmd = {"/init", "a\"b"};
  d.env = {{"LABVIRT_INTFS", "eth1 eth2"}};
  d.memory_mb = 64;
  d.vcpus = 2;
  d.capabilities = {"NET_ADMIN"};
  d.hostname = "c1";
  return d;
}

TEST(DockerJsonTest, BindsGoToHostConfigWithTheirMode) {
  ContainerDefinition d = Def();
  d.binds = {{"/srv/b/cfg", "/config", true}, {"/srv/b/log", "/var/log", false}};
  std::string body = CreateBody(d, {"default", "lab", "c1"}, "<domain type='lxc'/>");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_EQ(p.parse(body).get(e), simdjson::SUCCESS) << body;
  EXPECT_EQ(std::string_view(e["HostConfig"]["Binds"].at(0)), "/srv/b/cfg:/config:ro");
  EXPECT_EQ(std::string_view(e["HostConfig"]["Binds"].at(1)), "/srv/b/log:/var/log:rw");
}

TEST(DockerJsonTest, ExecBodiesAskForAnAttachedTty) {
  std::string body = ExecCreateBody({"cli", "-c", "a\"b"});
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_EQ(p.parse(body).get(e), simdjson::SUCCESS) << body;
  EXPECT_TRUE(bool(e["AttachStdin"]));
  EXPECT_TRUE(bool(e["AttachStdout"]));
  EXPECT_TRUE(bool(e["AttachStderr"]));
  EXPECT_TRUE(bool(e["Tty"]));
  simdjson::dom::array cmd;
  ASSERT_EQ(e["Cmd"].get(cmd), simdjson::SUCCESS);
  ASSERT_EQ(cmd.size(), 3u);
  EXPECT_EQ(std::string_view(cmd.at(0)), "cli");
  EXPECT_EQ(std::string_view(cmd.at(2)), "a\"b");

  simdjson::dom::parser p2;
  std::string start = ExecStartBody();
  ASSERT_EQ(p2.parse(start).get(e), simdjson::SUCCESS) << start;
  EXPECT_FALSE(bool(e["Detach"]));
  EXPECT_TRUE(bool(e["Tty"]));
}

TEST(DockerJsonTest, CreatedIdIsReadAndAMissingOneRefused) {
  auto id = ParseCreatedId(R"({"Id":"f00d","Warnings":[]})");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "f00d");
  EXPECT_FALSE(ParseCreatedId(R"({"Warnings":[]})").ok());
  EXPECT_FALSE(ParseCreatedId(R"({"Id":""})").ok());
  EXPECT_FALSE(ParseCreatedId("not json").ok());
}

TEST(DockerJsonTest, CreateBodyCarriesTheDefinition) {
  std::string body = CreateBody(Def(), {"default", "lab", "c1"}, "<domain type='lxc'/>");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_EQ(p.parse(body).get(e), simdjson::SUCCESS) << body;
  EXPECT_EQ(std::string_view(e["Image"]), "labvirt/linux-fixture:1");
  EXPECT_EQ(std::string_view(e["Cmd"].at(1)), "a\"b");
  EXPECT_EQ(std::string_view(e["Env"].at(0)), "LABVIRT_INTFS=eth1 eth2");
  EXPECT_TRUE(bool(e["Tty"]));
  EXPECT_TRUE(bool(e["OpenStdin"]));
  EXPECT_EQ(std::string_view(e["Labels"]["labvirt.domain"]), "lv-lab-c1-0123abcd");
  EXPECT_EQ(std::string_view(e["Labels"]["labvirt.lab"]), "lab");
  EXPECT_EQ(std::string_view(e["Labels"]["labvirt.definition"]), "<domain type='lxc'/>");
  EXPECT_EQ(std::string_view(e["HostConfig"]["NetworkMode"]), "none");
  EXPECT_EQ(int64_t(e["HostConfig"]["Memory"]), 64 * 1024 * 1024);
  EXPECT_EQ(int64_t(e["HostConfig"]["NanoCpus"]), 2000000000);
  EXPECT_EQ(std::string_view(e["HostConfig"]["CapAdd"].at(0)), "NET_ADMIN");
  EXPECT_TRUE(e["HostConfig"]["Binds"].error()) << "no binds, no member";
  EXPECT_EQ(std::string_view(e["HostConfig"]["RestartPolicy"]["Name"]), "no");
  EXPECT_EQ(std::string_view(e["HostConfig"]["Sysctls"]["net.ipv6.conf.all.disable_ipv6"]), "0");
}

TEST(DockerJsonTest, StopSignalAndTheKindsSysctlsReachTheCreateBody) {
  ContainerDefinition d = Def();
  simdjson::dom::parser plain;
  EXPECT_TRUE(plain.parse(CreateBody(d, {"i", "l", "n"}, ""))["StopSignal"].error())
      << "no stop signal: Docker's default";
  d.stop_signal = "SIGRTMIN+3";
  d.sysctls = {{"net.ipv4.ip_forward", "0"}, {"net.ipv6.conf.all.disable_ipv6", "1"}};
  std::string body = CreateBody(d, {"default", "lab", "c1"}, "<domain type='lxc'/>");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_EQ(p.parse(body).get(e), simdjson::SUCCESS) << body;
  EXPECT_EQ(std::string_view(e["StopSignal"]), "SIGRTMIN+3");
  simdjson::dom::element sysctls = e["HostConfig"]["Sysctls"];
  EXPECT_EQ(std::string_view(sysctls["net.ipv4.ip_forward"]), "0");
  EXPECT_EQ(std::string_view(sysctls["net.ipv6.conf.all.disable_ipv6"]), "1") << "the kind's wins";
  EXPECT_TRUE(sysctls["net.ipv6.conf.default.disable_ipv6"].error())
      << "labvirt's IPv6 pair is one choice: a kind that sets `all` gets no `default` beside it "
         "(the kernel copies `all` into `default`; runc's order is random)";
  d.sysctls = {{"net.ipv6.conf.default.disable_ipv6", "1"}};
  simdjson::dom::parser p2;
  simdjson::dom::element only_default = p2.parse(CreateBody(d, {"i", "l", "n"}, ""));
  EXPECT_TRUE(only_default["HostConfig"]["Sysctls"]["net.ipv6.conf.all.disable_ipv6"].error());
  d.sysctls = {{"net.ipv4.ip_forward", "1"}};
  simdjson::dom::parser p3;
  simdjson::dom::element other = p3.parse(CreateBody(d, {"i", "l", "n"}, ""));
  EXPECT_EQ(std::string_view(other["HostConfig"]["Sysctls"]["net.ipv6.conf.default.disable_ipv6"]),
            "0")
      << "labvirt's pair stays where the kind says nothing about IPv6";
}

std::string Event(const std::string& action, const std::string& attrs) {
  return R"({"Type":"container","Action":")" + action + R"(","Actor":{"ID":"abc","Attributes":{)" +
         attrs + "}}}";
}

TEST(DockerJsonTest, EventsMapToDomainEvents) {
  const std::string ours = R"("labvirt.domain":"lv-x","exitCode":"137")";
  auto start = ParseEvent(Event("start", ours), false);
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->info.name, "lv-x");
  EXPECT_EQ(start->info.event, DomainEvent::kStarted);
  EXPECT_EQ(ParseEvent(Event("create", ours), false)->info.event, DomainEvent::kDefined);
  EXPECT_EQ(ParseEvent(Event("destroy", ours), false)->info.event, DomainEvent::kUndefined);
  auto crash = ParseEvent(Event("die", ours), false);
  EXPECT_EQ(crash->info.event, DomainEvent::kStopped);
  EXPECT_EQ(crash->info.detail, "crashed");
  EXPECT_EQ(ParseEvent(Event("die", ours), true)->info.detail, "destroyed");
  auto off = ParseEvent(Event("die", R"("labvirt.domain":"lv-x","exitCode":"0")"), false);
  EXPECT_EQ(off->info.detail, "shutdown");
  // Not labvirt's, not a state change, not a container, not JSON.
  EXPECT_EQ(ParseEvent(Event("start", R"("name":"web")"), false).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ParseEvent(Event("exec_start", ours), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseEvent(R"({"Type":"network","Action":"connect"})", false).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ParseEvent("{", false).status().code(), StatusCode::kInvalidArgument);
}

TEST(DockerJsonTest, ListAndInspect) {
  auto list = ParseContainerList(
      R"([{"Id":"1","State":"running","Labels":{"labvirt.domain":"lv-a","labvirt.definition":"<d/>"}},
          {"Id":"2","State":"exited","Labels":{"other":"x"}},
          {"Id":"3","State":"exited"}])");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u) << "only labvirt's containers";
  EXPECT_EQ((*list)[0].domain, "lv-a");
  EXPECT_EQ((*list)[0].state, "running");
  EXPECT_EQ((*list)[0].definition, "<d/>");
  EXPECT_FALSE(ParseContainerList(R"({"message":"x"})").ok());
  auto st = ParseInspect(
      R"({"State":{"Running":true,"Paused":false,"Pid":4242,"ExitCode":0,"Error":"",
                    "FinishedAt":"2026-12-04T20:01:02.5Z"},
          "Config":{"Labels":{"labvirt.domain":"lv-a"}}})");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running);
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->domain, "lv-a");
  EXPECT_EQ(st->finished_at, "2026-12-04T20:01:02.5Z");
  auto dead = ParseInspect(R"({"State":{"Running":false,"Pid":0,"ExitCode":3,"Error":"boom"}})");
  ASSERT_TRUE(dead.ok());
  EXPECT_FALSE(dead->running);
  EXPECT_EQ(dead->exit_code, 3);
  EXPECT_EQ(dead->error, "boom");
  EXPECT_EQ(dead->domain, "") << "a container labvirt did not make";
  EXPECT_FALSE(ParseInspect("[]").ok());
}

// The logs API's "since" for a container's current run: the nanosecond after its previous run
// ended, so none of that run's lines (each stamped at or before its end) come back.
TEST(DockerJsonTest, TheInstantAfterADockerTimeIsWhatTheLogsApiTakes) {
  EXPECT_EQ(UnixInstantAfter("1970-01-01T00:00:00Z"), "0.000000001");
  EXPECT_EQ(UnixInstantAfter("2026-12-04T20:01:02.123456789Z"), "1796414462.123456790");
  EXPECT_EQ(UnixInstantAfter("2026-12-04T20:01:02.5Z"), "1796414462.500000001");
  EXPECT_EQ(UnixInstantAfter("2026-12-04T20:01:02Z"), "1796414462.000000001");
  EXPECT_EQ(UnixInstantAfter("2026-12-04T20:01:02.999999999Z"), "1796414463.000000000")
      << "the carry into the next second";
  EXPECT_EQ(UnixInstantAfter("2026-12-04T20:01:02.1234567891Z"), "1796414462.123456790")
      << "digits past the nanosecond dropped";
  // Never ran to an end: Docker's zero time; everything the container printed is this run's.
  EXPECT_EQ(UnixInstantAfter("0001-01-01T00:00:00Z"), "");
  for (const char* bad :
       {"", "yesterday", "2026-12-04", "2026-12-04T20:01:02", "2026-12-04T20:01:02+01:00",
        "2026-12-04T20:01:02.Z", "2026-12-04T20:01:02.5Zjunk", "2026-12-04 20:01:02Z",
        "2026-13-04T20:01:02Z", "2026--1-04T20:01:02Z", "2026-12-04T24:00:00Z"}) {
    EXPECT_EQ(UnixInstantAfter(bad), "") << bad;
  }
}

}  // namespace
}  // namespace labvirt::providers::docker
