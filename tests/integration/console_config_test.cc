// Console scripts end to end: the built labvirtd on real libvirtd and QEMU deploys vEOS-kind
// fixture nodes (day0 method console) whose transcript behaves like the EOS CLI: a login prompt,
// prompts that change with enable/configure/end, an error answer for a bad line, and a
// `show running-config` that prints back every line the console was typed (@@goto, @@recorded:
// docs/fixtures.md). So the test proves that labvirt logged in, pasted exactly the config's lines
// in config mode, made the node ready only after that, and that a save returns exactly what the
// device printed. Also: a refused line fails the node naming the line; a save while a person holds
// the write lease is refused; saved configs are versioned and outlive the lab; bad names are
// refused. LABVIRT_TEST_ACCEL=tcg runs the nodes under TCG.
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "reactor/base/json_writer.h"
#include "tests/support/fixture_suite.h"
#include "tests/support/prereq.h"
#include "tests/support/suite_place.h"
#include "tools/ctl/client.h"

namespace labvirt {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const testing::SuitePlace kPlace("cli");
const std::string kLab = "cli" + kPlace.pid;

// The EOS CLI as far as labvirt's arista_veos script needs it (engine/data/catalog.json "cli").
const char kTranscript[] =
    "Aboot 8.0.0-fixture\n"
    "Starting Arista EOS\n"
    "@@prompt localhost login:\\x20\n"
    "@@goto admin => localhost>\n"
    "@@goto enable => localhost#\n"
    "@@reply terminal length 0 => Pagination disabled.\n"
    "@@goto configure => localhost(config)#\n"
    "@@goto end => localhost#\n"
    "@@reply write memory => Copy completed successfully.\n"
    "@@reply bogus command => % Invalid input (at token 0: 'bogus')\n"
    "@@reply show running-config => ! Command: show running-config\\r\\n"
    "! device: localhost (vEOS-lab, EOS-4.28.3M)\\r\\n!\n"
    "@@recorded show running-config\n"
    "@@reply show running-config => end\n";

const char kConfig[] =
    "! from the controller\n"
    "hostname leaf1\n"
    "!\n"
    "interface Ethernet1\n"
    "   description to spine1\n"
    "   no switchport\n"
    "   ip address 10.0.1.1/31\n"
    "\n"
    "end\n";
// What the device's running config is after the paste, as `show running-config` prints it
// without the lines the kind's `strip` drops: the typed lines, between "!" and "end".
const char kSaved[] =
    "!\n"
    "hostname leaf1\n"
    "interface Ethernet1\n"
    "   description to spine1\n"
    "   no switchport\n"
    "   ip address 10.0.1.1/31\n"
    "end\n";

std::string Call(const std::string& method, const std::string& params) {
  return testing::CallBounded(kPlace.socket, method, params);
}

std::string NodeParams(const std::string& lab, const std::string& node,
                       const std::string& extra = "") {
  return R"({"lab":")" + lab + R"(","node":")" + node + "\"" + extra + "}";
}

// A member of the answer's result, as text ("" when missing).
std::string Field(const std::string& answer, std::initializer_list<const char*> path) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(answer).get(e) || e["result"].get(e)) return "";
  for (const char* key : path) {
    if (e[key].get(e)) return "";
  }
  std::string_view s;
  if (!e.get_string().get(s)) return std::string(s);
  int64_t n;
  if (!e.get_int64().get(n)) return std::to_string(n);
  return simdjson::to_string(e);
}

std::string NodeJson(const std::string& name, const std::string& config) {
  JsonWriter w;
  w.BeginObject().Key("name").String(name).Key("kind").String("veos");
  w.Key("image").String("veos.qcow2").Key("memory_mb").Int(64).Key("nics").Int(1);
  if (!config.empty()) w.Key("startup_config").String(config);
  w.EndObject();
  return w.Take();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ConsoleConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string err = testing::StartFixtureSuite({kPlace, "veos.qcow2", kTranscript}, &daemon_);
    healthy_ = err.empty();
    if (!healthy_) std::fprintf(stderr, "%s\n", err.c_str());
  }
  static void TearDownTestSuite() {
    daemon_.reset();
    kPlace.Remove();
  }
  void SetUp() override { LABVIRT_REQUIRE(healthy_, "labvirtd healthy on real libvirtd"); }
  // A failed assertion returns early: the lab goes anyway, so no VM or port outlives the test.
  void TearDown() override { Call("lab.destroy", R"({"lab":")" + kLab + R"("})"); }

  static inline std::unique_ptr<testing::DaemonProcess> daemon_;
  static inline bool healthy_ = false;
};

TEST_F(ConsoleConfigTest, PastesLogsInSavesExactlyAndRefusesWhatItShould) {
  const std::string lab = kLab;
  // s1's config is pasted; s2's second line is refused by the device.
  std::string deployed =
      Call("lab.deploy", R"({"lab":")" + lab + R"(","wait":true,"nodes":[)" +
                             NodeJson("s1", kConfig) + "," +
                             NodeJson("s2", "hostname s2\nbogus command\nhostname never\n") + "]}");
  ASSERT_EQ(Field(deployed, {"name"}), lab) << deployed << daemon_->Warnings();

  std::string s1 = Call("node.get", NodeParams(lab, "s1"));
  ASSERT_EQ(Field(s1, {"state"}), "ready") << s1 << daemon_->Warnings();
  EXPECT_NE(Field(s1, {"reason"}).find("startup config applied"), std::string::npos) << s1;
  EXPECT_EQ(Field(s1, {"config", "method"}), "console");
  EXPECT_EQ(Field(s1, {"config", "state"}), "applied");
  EXPECT_EQ(Field(s1, {"config", "lines"}), "5");
  EXPECT_EQ(Field(s1, {"config", "lines_done"}), "5");

  std::string s2 = Call("node.get", NodeParams(lab, "s2"));
  EXPECT_EQ(Field(s2, {"state"}), "failed") << s2;
  EXPECT_NE(Field(s2, {"reason"})
                .find("startup config: node s2: command 'bogus command' (config line 2) was "
                      "refused: % Invalid input (at token 0: 'bogus')"),
            std::string::npos)
      << s2;
  EXPECT_EQ(Field(s2, {"config", "state"}), "failed");

  // A save returns exactly the device's running config, and stores it as a version.
  std::string saved = Call("node.config.save", NodeParams(lab, "s1"));
  ASSERT_EQ(Field(saved, {"node"}), "s1") << saved << daemon_->Warnings();
  const std::string path = Field(saved, {"path"});
  EXPECT_EQ(ReadFile(path), kSaved);
  EXPECT_EQ(Field(saved, {"bytes"}), std::to_string(std::strlen(kSaved)));
  EXPECT_EQ(Field(saved, {"sha256"}).size(), 64u);
  EXPECT_EQ(fs::read_symlink(fs::path(path).parent_path() / "latest"), fs::path(path).filename());

  // A person holding the write lease is not typed over.
  {
    auto person = ctl::Client::Connect(kPlace.socket);
    ASSERT_TRUE(person.ok());
    auto attached = person->Call("console.attach", NodeParams(lab, "s1", R"(,"mode":"rw")"));
    ASSERT_TRUE(attached.ok());
    ASSERT_EQ(attached->find("\"error\""), std::string::npos) << *attached;
    std::string refused = Call("node.config.save", NodeParams(lab, "s1"));
    EXPECT_NE(refused.find("a person holds the console's write lease"), std::string::npos)
        << refused;
  }
  // Once they left, the lab's save runs on every ready node and says why it skipped the others.
  std::string all;
  for (int i = 0; i < 50; ++i) {  // the hub notices the hang-up on its next receive
    all = Call("lab.config.save", R"({"lab":")" + lab + R"("})");
    if (all.find("write lease") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(all.find(R"("saved":[{"node":"s1")"), std::string::npos) << all;
  EXPECT_NE(all.find(R"("skipped":[{"node":"s2","reason":"failed"}])"), std::string::npos) << all;

  // node.config.get returns the latest version, the text and every version; it outlives the lab.
  std::string destroyed = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  ASSERT_EQ(destroyed.find("\"error\""), std::string::npos) << destroyed;
  std::string got = Call("node.config.get", NodeParams(lab, "s1"));
  EXPECT_EQ(Field(got, {"text"}), kSaved) << got;
  EXPECT_NE(Field(got, {"versions"}).find(","), std::string::npos) << got;  // two versions
  std::string older =
      Call("node.config.get",
           NodeParams(lab, "s1", R"(,"version":")" + Field(saved, {"version"}) + "\""));
  EXPECT_EQ(Field(older, {"text"}), kSaved) << older;
  // labvirtctl prints the text as it is, so `labvirtctl config LAB NODE > file` keeps it.
  std::string printed;
  if (FILE* p = ::popen(
          (std::string(LABVIRTCTL_PATH) + " --socket " + kPlace.socket + " config " + lab + " s1")
              .c_str(),
          "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) printed.append(buf, n);
    EXPECT_EQ(::pclose(p), 0);
  }
  EXPECT_EQ(printed, kSaved);

  // Bad names and versions never reach a path.
  for (const auto& [params, want] : std::vector<std::pair<std::string, std::string>>{
           {NodeParams(lab, "s1", R"(,"version":"../../../etc/passwd")"), "not a saved config"},
           {NodeParams("../etc", "s1"), "lab"},
           {NodeParams(lab, "nobody"), "has no saved config"},
       }) {
    std::string bad = Call("node.config.get", params);
    EXPECT_NE(bad.find("\"error\""), std::string::npos) << bad;
    EXPECT_NE(bad.find(want), std::string::npos) << bad;
  }
  std::string none = Call("node.config.save", NodeParams(lab, "s1"));
  EXPECT_NE(none.find("\"error\""), std::string::npos) << none;

  // A re-deploy starts the node from its last saved config: typed again, the same running config.
  std::string again =
      Call("lab.deploy", R"({"lab":")" + lab +
                             R"(","wait":true,"use_saved_configs":true,"save_on_stop":true,)"
                             R"("nodes":[)" +
                             NodeJson("s1", "") + "]}");
  ASSERT_EQ(Field(again, {"name"}), lab) << again << daemon_->Warnings();
  std::string s1again = Call("node.get", NodeParams(lab, "s1"));
  EXPECT_EQ(Field(s1again, {"state"}), "ready") << s1again;
  EXPECT_EQ(Field(s1again, {"config", "bytes"}), std::to_string(std::strlen(kSaved)));
  EXPECT_EQ(Field(s1again, {"config", "state"}), "applied");
  EXPECT_EQ(Field(s1again, {"save_on_stop"}), "true");
  std::string resaved = Call("node.config.save", NodeParams(lab, "s1"));
  EXPECT_EQ(ReadFile(Field(resaved, {"path"})), kSaved) << resaved;
  // save_on_stop: the destroy saves one more version first.
  auto versions = [&] {
    std::string v = Field(Call("node.config.get", NodeParams(lab, "s1")), {"versions"});
    return std::count(v.begin(), v.end(), ',') + 1;
  };
  const auto before = versions();
  std::string gone = Call("lab.destroy", R"({"lab":")" + lab + R"("})");
  ASSERT_EQ(gone.find("\"error\""), std::string::npos) << gone;
  EXPECT_EQ(versions(), before + 1);
}

}  // namespace
}  // namespace labvirt
