// The soak driver behind tools/soak (issue 19; docs/reliability.md "Soak"): one labvirtd on the
// host's libvirtd, QEMU and OVS, driven through N cycles of deploy → link change → node restart
// → (every Rth cycle) labvirtd restart → destroy on fixture VMs (tests/support/soak_run.h), with
// labvirtd's fds, RSS and threads, the bridge's and the labs' OVS ports, domains, state files and
// helper processes sampled after each cycle. Writes the JSON report, prints the summary and exits
// 1 when fds, ports, domains, state files or helpers drifted, 2 when a cycle failed or on bad
// usage. Not a Google Benchmark: a soak has no rate to compare with a baseline.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "reactor/base/flag_parser.h"
#include "reactor/base/json_writer.h"
#include "tests/support/soak_run.h"
#include "tests/support/soak_summary.h"

namespace {

using labvirt::Flag;
using labvirt::Status;
using labvirt::testing::SoakOptions;

Status IntIn(const std::string& v, int lo, int hi, int* out) {
  try {
    size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size() && n >= lo && n <= hi) {
      *out = n;
      return Status::Ok();
    }
  } catch (const std::exception&) {
  }
  return labvirt::InvalidArgument("expected an integer " + std::to_string(lo) + ".." +
                                  std::to_string(hi) + ", got '" + v + "'");
}

std::string ConfigJson(const SoakOptions& o, int cycles, int warmup, int max_minutes) {
  labvirt::JsonWriter w;
  w.BeginObject().Key("cycles").Int(cycles).Key("max_minutes").Int(max_minutes);
  w.Key("nodes").Int(o.nodes);
  w.Key("memory_mb").Int(o.memory_mb).Key("restart_every").Int(o.restart_every);
  w.Key("warmup").Int(warmup).Key("bridge").String(o.bridge).Key("name").String(o.name);
  return w.EndObject().Take();
}

}  // namespace

int main(int argc, char** argv) {
  SoakOptions options{.name = "sk" + std::to_string(::getpid()), .restart_every = 10};
  int cycles = 200, warmup = 2, max_minutes = 0;
  std::string json_path = "soak-report.json";
  bool help = false;
  labvirt::FlagParser parser({
      {"--cycles", true, "N", "cycles to run (default 200)",
       [&](const std::string& v) { return IntIn(v, 1, 100000, &cycles); }},
      {"--max-minutes", true, "M",
       "start no cycle after M minutes (the last one then ends the run); 0: no limit (default)",
       [&](const std::string& v) { return IntIn(v, 0, 100000, &max_minutes); }},
      {"--nodes", true, "K", "fixture nodes in the lab (default 2)",
       [&](const std::string& v) { return IntIn(v, 1, 16, &options.nodes); }},
      {"--memory-mb", true, "MB", "each node's memory (default 64, the iosv kind's least)",
       [&](const std::string& v) { return IntIn(v, 64, 4096, &options.memory_mb); }},
      {"--restart-every", true, "R",
       "restart labvirtd (SIGTERM, start, adopt) during every Rth cycle; 0 never (default 10)",
       [&](const std::string& v) { return IntIn(v, 0, 100000, &options.restart_every); }},
      {"--warmup", true, "W",
       "samples of each labvirtd lifetime left out of its RSS slope (default 2)",
       [&](const std::string& v) { return IntIn(v, 0, 1000, &warmup); }},
      {"--bridge", true, "NAME", "labvirtd's OVS bridge (default arch-ovs)",
       [&](const std::string& v) {
         options.bridge = v;
         return Status::Ok();
       }},
      {"--json", true, "FILE", "the report (default soak-report.json)",
       [&](const std::string& v) {
         json_path = v;
         return Status::Ok();
       }},
      {"--keep", false, "", "keep the state dir and labvirtd's log",
       [&](const std::string&) {
         options.keep_files = true;
         return Status::Ok();
       }},
      {"--help", false, "", "this help",
       [&](const std::string&) {
         help = true;
         return Status::Ok();
       }},
  });
  auto parsed = parser.Parse(std::vector<std::string>(argv + 1, argv + argc),
                             labvirt::Positionals::kRefuse, labvirt::UnknownFlags::kRefuse);
  if (help || !parsed.ok()) {
    if (!parsed.ok()) {
      std::cerr << "soak: " << parsed.error->arg << ": "
                << (parsed.error->status.ok() ? "not understood" : parsed.error->status.message())
                << "\n";
    }
    std::cerr << "usage: soak [flags]\n" << parser.Help(24);
    return help && parsed.ok() ? 0 : 2;
  }

  int rc = 0;
  std::string failure;
  labvirt::testing::SoakSummary summary;
  std::string report;
  {
    labvirt::testing::SoakRun run(options);
    failure = run.Start();
    auto started = std::chrono::steady_clock::now();
    auto over_time = [&] {
      return max_minutes > 0 &&
             std::chrono::steady_clock::now() - started >= std::chrono::minutes(max_minutes);
    };
    for (int n = 1; failure.empty() && n <= cycles && !over_time(); ++n) {
      failure = run.Cycle(n);
      const auto& s = run.samples().back();
      if (failure.empty()) {
        std::printf(
            "cycle %d/%d: %.1f s, fds %lld, rss %lld KiB (anon %lld), threads %lld, ports "
            "%lld/%lld, "
            "domains %lld, files %lld, helpers %lld\n",
            n, cycles, s.at_s, static_cast<long long>(s.fds), static_cast<long long>(s.rss_kib),
            static_cast<long long>(s.rss_anon_kib), static_cast<long long>(s.threads),
            static_cast<long long>(s.lab_ports), static_cast<long long>(s.bridge_ports),
            static_cast<long long>(s.domains), static_cast<long long>(s.state_files),
            static_cast<long long>(s.helpers));
        std::fflush(stdout);
      }
    }
    summary = labvirt::testing::Summarize(run.samples(), warmup);
    report = labvirt::testing::SoakReportJson(ConfigJson(options, cycles, warmup, max_minutes),
                                              run.samples(), summary);
    if (!failure.empty()) {
      std::fprintf(stderr, "soak: %s\nlabvirtd's log and state kept in %s\n", failure.c_str(),
                   run.suite().place.state_dir.c_str());
      run.KeepFiles();
    }
  }
  std::ofstream(json_path) << report << "\n";
  std::printf("%sreport: %s\n", labvirt::testing::SoakSummaryText(summary).c_str(),
              json_path.c_str());
  if (!failure.empty())
    rc = 2;
  else if (summary.drifted)
    rc = 1;
  return rc;
}
