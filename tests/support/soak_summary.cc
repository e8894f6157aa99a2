#include "tests/support/soak_summary.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "reactor/base/json_writer.h"

namespace labvirt::testing {
namespace {

struct Metric {
  const char* name;
  int64_t SoakSample::*field;
  bool judged;
};

constexpr Metric kMetrics[] = {
    {"fds", &SoakSample::fds, true},
    {"threads", &SoakSample::threads, false},
    {"bridge_ports", &SoakSample::bridge_ports, true},
    {"lab_ports", &SoakSample::lab_ports, true},
    {"domains", &SoakSample::domains, true},
    {"state_files", &SoakSample::state_files, true},
    {"helpers", &SoakSample::helpers, true},
};

// Sums for a least-squares slope of RSS over cycle within one lifetime.
struct Fit {
  std::vector<std::pair<double, double>> points;  // (cycle, rss_kib)
  double sxx = 0, sxy = 0;
  void Finish() {
    if (points.empty()) return;
    double mx = 0, my = 0;
    for (auto [x, y] : points) mx += x, my += y;
    mx /= static_cast<double>(points.size());
    my /= static_cast<double>(points.size());
    for (auto [x, y] : points) sxx += (x - mx) * (x - mx), sxy += (x - mx) * (y - my);
  }
};

// The fit of `field` over one lifetime's samples after the first `warmup`; unread values (-1)
// left out.
Fit FitLifetime(const std::vector<const SoakSample*>& list, int warmup,
                int64_t SoakSample::*field) {
  Fit fit;
  for (size_t i = static_cast<size_t>(std::max(warmup, 0)); i < list.size(); ++i) {
    if (list[i]->*field >= 0) fit.points.emplace_back(list[i]->cycle, list[i]->*field);
  }
  fit.Finish();
  return fit;
}

// A number with three decimals (JsonWriter::Double writes 17 significant digits).
void Fixed(JsonWriter& w, std::optional<double> v) {
  if (!v || !std::isfinite(*v)) {
    w.Null();
    return;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", *v);
  w.Raw(buf);
}

}  // namespace

SoakSummary Summarize(const std::vector<SoakSample>& samples, int warmup) {
  SoakSummary out;
  std::vector<const SoakSample*> cycles;
  for (const auto& s : samples) {
    if (s.cycle > 0) cycles.push_back(&s);
  }
  out.cycles = static_cast<int>(cycles.size());
  if (cycles.empty()) {
    out.drifted = true;  // nothing ran: no evidence of "no drift"
    return out;
  }
  for (const auto& m : kMetrics) {
    SoakDrift d{m.name, cycles.front()->*m.field, cycles.back()->*m.field, m.judged};
    if (d.judged && (d.drift() != 0 || d.first < 0 || d.last < 0)) out.drifted = true;
    out.drifts.push_back(d);
  }

  // Per lifetime, the baseline included: a lifetime's own first sample is where it starts.
  std::map<int, std::vector<const SoakSample*>> by_lifetime;
  for (const auto& s : samples) by_lifetime[s.lifetime].push_back(&s);
  double pooled_sxx = 0, pooled_sxy = 0;
  for (const auto& [lifetime, list] : by_lifetime) {
    SoakLifetime l;
    l.lifetime = lifetime;
    l.first_cycle = list.front()->cycle;
    l.last_cycle = list.back()->cycle;
    l.first_rss_kib = list.front()->rss_kib;
    l.last_rss_kib = list.back()->rss_kib;
    Fit fit = FitLifetime(list, warmup, &SoakSample::rss_kib);
    l.fitted = static_cast<int>(fit.points.size());
    if (fit.points.size() >= 2 && fit.sxx > 0) l.slope_kib_per_cycle = fit.sxy / fit.sxx;
    pooled_sxx += fit.sxx;
    pooled_sxy += fit.sxy;
    out.lifetimes.push_back(l);
  }
  if (pooled_sxx > 0) out.rss_slope_kib_per_cycle = pooled_sxy / pooled_sxx;
  // The same pooled fit for RssAnon: what the daemon allocated, without the binary's pages.
  double anon_sxx = 0, anon_sxy = 0;
  for (const auto& [lifetime, list] : by_lifetime) {
    Fit fit = FitLifetime(list, warmup, &SoakSample::rss_anon_kib);
    anon_sxx += fit.sxx;
    anon_sxy += fit.sxy;
  }
  if (anon_sxx > 0) out.rss_anon_slope_kib_per_cycle = anon_sxy / anon_sxx;
  return out;
}

std::string SoakReportJson(const std::string& config_json, const std::vector<SoakSample>& samples,
                           const SoakSummary& summary) {
  JsonWriter w;
  w.BeginObject().Key("config").Raw(config_json).Key("samples").BeginArray();
  for (const auto& s : samples) {
    w.BeginObject().Key("cycle").Int(s.cycle).Key("lifetime").Int(s.lifetime);
    w.Key("pid").Int(s.pid).Key("at_s");
    Fixed(w, s.at_s);
    w.Key("rss_kib").Int(s.rss_kib).Key("rss_anon_kib").Int(s.rss_anon_kib);
    w.Key("rss_file_kib").Int(s.rss_file_kib);
    for (const auto& m : kMetrics) w.Key(m.name).Int(s.*m.field);
    w.Key("phase_s").BeginObject();
    for (const auto& [phase, seconds] : s.phase_s) {
      w.Key(phase);
      Fixed(w, seconds);
    }
    w.EndObject().EndObject();
  }
  w.EndArray().Key("summary").BeginObject().Key("cycles").Int(summary.cycles);
  w.Key("drift").BeginObject();
  for (const auto& d : summary.drifts) {
    w.Key(d.metric).BeginObject().Key("first").Int(d.first).Key("last").Int(d.last);
    w.Key("drift").Int(d.drift()).Key("judged").Bool(d.judged).EndObject();
  }
  w.EndObject().Key("rss_lifetimes").BeginArray();
  for (const auto& l : summary.lifetimes) {
    w.BeginObject().Key("lifetime").Int(l.lifetime).Key("first_cycle").Int(l.first_cycle);
    w.Key("last_cycle").Int(l.last_cycle).Key("first_rss_kib").Int(l.first_rss_kib);
    w.Key("last_rss_kib").Int(l.last_rss_kib).Key("fitted").Int(l.fitted);
    w.Key("slope_kib_per_cycle");
    Fixed(w, l.slope_kib_per_cycle);
    w.EndObject();
  }
  w.EndArray().Key("rss_slope_kib_per_cycle");
  Fixed(w, summary.rss_slope_kib_per_cycle);
  w.Key("rss_anon_slope_kib_per_cycle");
  Fixed(w, summary.rss_anon_slope_kib_per_cycle);
  w.Key("drifted").Bool(summary.drifted).EndObject().EndObject();
  return w.Take();
}

std::string SoakSummaryText(const SoakSummary& summary) {
  std::string out = "cycles: " + std::to_string(summary.cycles) + "\n";
  char line[200];
  for (const auto& d : summary.drifts) {
    std::snprintf(line, sizeof line, "%-13s first %6lld last %6lld drift %+lld%s\n",
                  d.metric.c_str(), static_cast<long long>(d.first), static_cast<long long>(d.last),
                  static_cast<long long>(d.drift()), d.judged ? "" : " (reported only)");
    out += line;
  }
  for (const auto& l : summary.lifetimes) {
    std::snprintf(
        line, sizeof line, "labvirtd lifetime %d (cycles %d-%d): RSS %lld -> %lld KiB, slope %s\n",
        l.lifetime, l.first_cycle, l.last_cycle, static_cast<long long>(l.first_rss_kib),
        static_cast<long long>(l.last_rss_kib),
        l.slope_kib_per_cycle ? (std::to_string(*l.slope_kib_per_cycle) + " KiB/cycle").c_str()
                              : "n/a");
    out += line;
  }
  out += "RSS slope within lifetimes: " +
         (summary.rss_slope_kib_per_cycle
              ? std::to_string(*summary.rss_slope_kib_per_cycle) + " KiB/cycle"
              : std::string("n/a")) +
         "\n";
  out += "RssAnon slope within lifetimes: " +
         (summary.rss_anon_slope_kib_per_cycle
              ? std::to_string(*summary.rss_anon_slope_kib_per_cycle) + " KiB/cycle"
              : std::string("n/a")) +
         "\n";
  out += summary.drifted ? "verdict: DRIFT\n" : "verdict: no drift\n";
  return out;
}

}  // namespace labvirt::testing
