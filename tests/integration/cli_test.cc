// labvirtctl as a user runs it: the built binary, as a child process, against the built labvirtd.
// The commands that need no lab (kinds, render-domain, host-info, catalog, status, metrics,
// version) in table form and with --json, and bad usage: exit codes, a one-line message on stderr
// naming the problem, nothing on stdout. Commands on labs are cli_lab_test.cc; the daemon and its
// test driver are described in cli_test_base.h.
#include "tests/integration/cli_test_base.h"

namespace labvirt {
namespace {

using namespace cli_test;

TEST_F(CliTest, OfflineKindsAndRenderDomain) {
  CtlRun kinds = Expect(0, {"kinds"});
  EXPECT_EQ(kinds.out.rfind("KIND ", 0), 0u) << kinds.out;
  EXPECT_NE(kinds.out.find("cisco_iosv "), std::string::npos) << kinds.out;
  // One row per name: FTDv and FMCv have entries, so they are not repeated as deny-list rows.
  for (const char* once : {"cisco_ftdv ", "cisco_fmcv ", "cisco_cat9kv "}) {
    size_t first = kinds.out.find(std::string("\n") + once);
    EXPECT_NE(first, std::string::npos) << once << kinds.out;
    EXPECT_EQ(kinds.out.find(std::string("\n") + once, first + 1), std::string::npos)
        << once << " listed twice:\n"
        << kinds.out;
  }
  simdjson::dom::element k = Json({"kinds"});
  ASSERT_TRUE(k.is_array());
  bool iosv = false;
  for (auto e : k.get_array()) iosv |= e["kind"].get_string().value_unsafe() == "cisco_iosv";
  EXPECT_TRUE(iosv) << json_text_;

  CtlRun xml = Expect(0, {"render-domain", "--kind", "iosv", "--node", "r9", "--nics", "3"});
  EXPECT_NE(xml.out.find("<domain"), std::string::npos) << xml.out;
  EXPECT_NE(xml.out.find("r9"), std::string::npos) << xml.out;
  ExpectError(2, {"render-domain", "--node", "r9"}, "--kind");
  // An unknown kind falls back to generic (docs/catalog.md); a denylisted one is refused.
  ExpectError(1, {"render-domain", "--kind", "cat9kv"}, "'cat9kv' is refused");
  ExpectError(2, {"render-domain", "--kind", "iosv", "--nics", "many"}, "--nics");
}

TEST_F(CliTest, HostInfoCatalogStatusMetricsVersion) {
  CtlRun info = Expect(0, {"host-info"});
  EXPECT_NE(info.out.find("healthy        true"), std::string::npos) << info.out;
  EXPECT_TRUE(Json({"host-info"})["healthy"].get_bool().value_unsafe()) << json_text_;

  CtlRun catalog = Expect(0, {"catalog"});
  EXPECT_EQ(catalog.out.rfind("KIND ", 0), 0u) << catalog.out;
  EXPECT_NE(catalog.out.find("cisco_iosv "), std::string::npos) << catalog.out;
  simdjson::dom::element c = Json({"catalog"});
  ASSERT_TRUE(c.is_array()) << json_text_;
  EXPECT_GT(c.get_array().size(), 1u);

  CtlRun status = Expect(0, {"status"});
  EXPECT_EQ(status.out.rfind("LAB ", 0), 0u) << status.out;
  EXPECT_TRUE(Json({"status"}).is_array()) << json_text_;

  CtlRun metrics = Expect(0, {"metrics"});
  EXPECT_NE(metrics.out.find("# TYPE labvirt_up "), std::string::npos) << metrics.out;
  std::string_view text;
  ASSERT_EQ(Json({"metrics"}).get_string().get(text), simdjson::SUCCESS) << json_text_;
  EXPECT_NE(text.find("labvirt_up"), std::string::npos);

  CtlRun version = Ctl({"version"}, false);
  EXPECT_EQ(version.rc, 0);
  EXPECT_EQ(version.out.rfind("labvirtctl ", 0), 0u) << version.out;
  CtlRun call = Expect(0, {"call", "catalog.get", R"({"kind":"iosv"})"});
  EXPECT_NE(call.out.find("cisco_iosv"), std::string::npos) << call.out;
}

TEST_F(CliTest, BadUsageIsOneLineOnStderrAndNonZero) {
  ExpectError(2, {"frobnicate"}, "unknown command 'frobnicate'");
  ExpectError(2, {"--bogus", "status"}, "unknown flag --bogus");
  ExpectError(2, {"stop", "jlab", "r1", "--forse"}, "unknown flag --forse");
  ExpectError(2, {"tail", "jlab", "r1", "--bytes", "ten"}, "--bytes must be an integer");
  ExpectError(2, {"node", "jlab"}, "usage: labvirtctl node LAB NODE");
  ExpectError(2, {"tail", "jlab"}, "usage: labvirtctl tail LAB NODE");
  ExpectError(2, {"destroy"}, "usage: labvirtctl destroy LAB");
  ExpectError(2, {"deploy"}, "usage: labvirtctl deploy FILE");
  ExpectError(2, {"link", "jlab", "frob", "x"}, "usage: labvirtctl link");
  ExpectError(2, {"status", "a", "b"}, "usage: labvirtctl status");
  ExpectError(2, {"metrics", "x"}, "usage: labvirtctl metrics");
  ExpectError(2, {"call", "lab.get", "not json"}, "PARAMS must be a JSON object");
  ExpectError(2, {"deploy", kDir + "/missing.yaml"}, kDir + "/missing.yaml");
  ExpectError(1, {"status", "nolab"}, "no lab named 'nolab'");
  ExpectError(1, {"--json", "status", "nolab"}, "no lab named 'nolab'");
  for (const char* verb : {"node", "start", "stop", "restart", "wipe", "reconcile", "nic-add",
                           "nic-remove", "tail", "console"}) {
    ExpectError(1, {verb, "nolab", "r1"}, "nolab");
  }
  ExpectError(1, {"link", "nolab", "delete", "x"}, "nolab");
  ExpectError(1, {"--socket", kDir + "/none.sock", "host-info"}, "cannot reach labvirtd", false);
  CtlRun none = Ctl({}, false);
  EXPECT_EQ(none.rc, 2);
  EXPECT_TRUE(none.out.empty()) << none.out;
  EXPECT_EQ(none.err.rfind("usage: labvirtctl", 0), 0u) << none.err;
}

}  // namespace
}  // namespace labvirt
