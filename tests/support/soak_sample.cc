#include "tests/support/soak_sample.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/host_view.h"
#include "tests/support/proc_fds.h"
#include "tests/support/shell.h"

namespace labvirt::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t CountLines(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += !line.empty() && line.find(needle) != std::string::npos;
  return n;
}

// ovs-vsctl's view; -1 when it fails (a dead ovsdb-server must not read as "no ports").
int64_t BridgePorts(const std::string& bridge) {
  int rc = 0;
  std::string out = Sh("ovs-vsctl --no-wait list-ports " + bridge + " 2>/dev/null", &rc);
  return rc == 0 ? CountLines(out, "") : -1;
}

int64_t LabPorts(const std::string& lab_prefix) {
  int rc = 0;
  std::string out =
      Sh("ovs-vsctl --no-wait --format=csv --data=bare --no-headings --columns=external_ids "
         "find port external_ids:owner=labvirt 2>/dev/null",
         &rc);
  return rc == 0 ? CountLines(out, "lab=" + lab_prefix) : -1;
}

// A dnsmasq of a management segment (or any other helper labvirtd starts) names a file under
// the state directory on its command line.
int64_t Helpers(const std::string& state_dir, pid_t daemon) {
  int64_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == daemon || pid == ::getpid()) continue;
    std::string cmdline = ReadWhole(it->path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    n += cmdline.find(state_dir + "/") != std::string::npos;
  }
  return n;
}

}  // namespace

int64_t ProcStatusValue(std::string_view status_text, std::string_view name) {
  size_t at = 0;
  while (at < status_text.size()) {
    size_t end = status_text.find('\n', at);
    if (end == std::string_view::npos) end = status_text.size();
    std::string_view line = status_text.substr(at, end - at);
    at = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ':') {
      continue;
    }
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    int64_t value = -1;
    auto [ptr, err] = std::from_chars(line.data(), line.data() + line.size(), value);
    return err == std::errc() && ptr != line.data() ? value : -1;
  }
  return -1;
}

int64_t CountFiles(const std::string& dir, const std::string& skip) {
  std::error_code ec;
  int64_t n = 0;
  const fs::path skipped = fs::path(dir) / skip;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!skip.empty() && it->path() == skipped) continue;
    n += it->is_regular_file(ec) && !it->is_symlink(ec);
  }
  return n;
}

SoakSample TakeSample(const SoakTarget& target) {
  SoakSample s;
  s.pid = target.pid;
  if (target.pid > 0) {
    std::string status = ReadWhole("/proc/" + std::to_string(target.pid) + "/status");
    s.rss_kib = ProcStatusValue(status, "VmRSS");
    s.rss_anon_kib = ProcStatusValue(status, "RssAnon");
    s.rss_file_kib = ProcStatusValue(status, "RssFile");
    s.threads = ProcStatusValue(status, "Threads");
    s.fds = OpenFds(target.pid);
  }
  s.bridge_ports = BridgePorts(target.bridge);
  s.lab_ports = LabPorts(target.lab_prefix);
  auto ids = DomainIds("lv-" + target.lab_prefix);
  s.domains = !ids.empty() && ids[0] == -2 ? -1 : static_cast<int64_t>(ids.size());
  s.state_files = CountFiles(target.state_dir, target.log_name);
  s.helpers = Helpers(target.state_dir, target.pid);
  return s;
}

}  // namespace labvirt::testing
