// Readiness scanning throughput over the shipped console transcripts with a large pattern set:
// labvirt's VT100 stripper + Hyperscan streaming scanner, beside what a user would otherwise
// write — std::regex per line over every pattern, and RE2::Set per line — in the same run.
//
// Patterns: every readiness pattern of engine/data/catalog.json (success, progress, failure of
// every kind) when the catalog is there, else the test specs' patterns plus a built-in list.
// Corpus: the exact console bytes of every tests/data/consoles/ transcript (mkfixture
// --print-expected), concatenated; labvirt reads it in 4 KiB chunks as a PTY reader would.
#include <re2/re2.h>
#include <re2/set.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/console/vt100_stripper.h"
#include "engine/readiness/readiness_scanner.h"
#include "tests/unit/engine/readiness_test_specs.h"

namespace labvirt::engine {
namespace {

std::vector<std::string> BuiltinPatterns() {
  std::set<std::string> out;
  for (const auto& name : labvirt::testing::TranscriptNames()) {
    auto spec = labvirt::testing::TestSpecFor(name);
    for (auto& p : spec.success) out.insert(p);
    for (auto& p : spec.progress) out.insert(p.pattern);
    for (auto& p : spec.failure) out.insert(p.pattern);
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> CatalogPatterns(std::string* source) {
  std::ifstream f(std::string(LABVIRT_SOURCE_DIR) + "/engine/data/catalog.json");
  std::stringstream ss;
  ss << f.rdbuf();
  std::set<std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!f || parser.parse(simdjson::padded_string(ss.str())).get(doc)) {
    *source = "builtin";
    return BuiltinPatterns();
  }
  simdjson::dom::array kinds;
  if (doc["kinds"].get(kinds)) return BuiltinPatterns();
  for (auto kind : kinds) {
    simdjson::dom::object r;
    if (kind["readiness"].get(r)) continue;
    simdjson::dom::array a;
    if (!r["success"].get(a)) {
      for (auto v : a) {
        std::string_view s;
        if (!v.get(s)) out.insert(std::string(s));
      }
    }
    for (const char* key : {"progress", "failure"}) {
      if (r[key].get(a)) continue;
      for (auto v : a) {
        std::string_view s;
        if (!v["pattern"].get(s)) out.insert(std::string(s));
      }
    }
  }
  *source = "catalog";
  return {out.begin(), out.end()};
}

struct Fixture {
  std::string corpus;                 // raw console bytes
  std::vector<std::string> lines;     // stripped text, split at \n (for the per-line baselines)
  std::vector<std::string> patterns;  // those every engine accepts
  std::string source;
  std::shared_ptr<const ReadinessPatterns> compiled;
  size_t skipped = 0;
};

const Fixture& Get() {
  static const Fixture* f = [] {
    auto* fx = new Fixture;
    for (const auto& name : labvirt::testing::TranscriptNames()) {
      fx->corpus += labvirt::testing::ExpectedConsoleBytes(LABVIRT_SOURCE_DIR, name);
    }
    Vt100Stripper st;
    std::string text;
    st.Feed(fx->corpus, &text);
    std::stringstream ss(text);
    for (std::string line; std::getline(ss, line);) fx->lines.push_back(line);
    // Keep the patterns all three engines accept, so each does the same job.
    for (const auto& p : CatalogPatterns(&fx->source)) {
      providers::ReadinessSpec one;
      one.success = {p};
      bool ok = ValidateReadinessSpec(one).ok() && RE2(p).ok();
      try {
        std::regex re(p, std::regex::ECMAScript | std::regex::icase);
      } catch (const std::regex_error&) {
        ok = false;
      }
      if (ok) {
        fx->patterns.push_back(p);
      } else {
        ++fx->skipped;
      }
    }
    providers::ReadinessSpec all;
    all.success = fx->patterns;
    auto c = ReadinessPatterns::Compile(all, "bench");
    if (!c.ok()) std::abort();
    fx->compiled = *c;
    return fx;
  }();
  return *f;
}

void SetCounters(benchmark::State& state, size_t bytes_per_iter, size_t matches) {
  const Fixture& f = Get();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes_per_iter));
  state.counters["patterns"] = static_cast<double>(f.patterns.size());
  state.counters["skipped"] = static_cast<double>(f.skipped);
  state.counters["matches"] = static_cast<double>(matches);
  state.SetLabel(f.source);
}

// labvirt: stripper + Hyperscan stream, raw bytes in 4 KiB reads.
void BM_Labvirt(benchmark::State& state) {
  const Fixture& f = Get();
  ReadinessScanner scanner(f.compiled);
  std::vector<ReadinessMatch> matches;
  std::string_view in = f.corpus;
  for (auto _ : state) {
    (void)scanner.Reset();
    matches.clear();
    for (size_t i = 0; i < in.size(); i += 4096) {
      (void)scanner.Feed(in.substr(i, 4096), &matches);
    }
    benchmark::DoNotOptimize(matches.data());
  }
  SetCounters(state, f.corpus.size(), matches.size());
}

// What a node really runs: each transcript through its own kind's database (the test specs:
// 8-10 patterns each), not one database holding every kind's patterns.
struct PerKind {
  std::string bytes;  // the raw console bytes
  std::string text;   // the same, stripped (for the ceiling)
  std::unique_ptr<ReadinessScanner> scanner;
  std::shared_ptr<const ReadinessPatterns> patterns;
};

const std::vector<PerKind>& PerKindFixture(size_t* total) {
  static const auto* ones = [] {
    auto* out = new std::vector<PerKind>;
    for (const auto& name : labvirt::testing::TranscriptNames()) {
      auto c = ReadinessPatterns::Compile(labvirt::testing::TestSpecFor(name), name);
      if (!c.ok()) std::abort();
      PerKind one{labvirt::testing::ExpectedConsoleBytes(LABVIRT_SOURCE_DIR, name), "",
                  std::make_unique<ReadinessScanner>(*c), *c};
      Vt100Stripper st;
      st.Feed(one.bytes, &one.text);
      out->push_back(std::move(one));
    }
    return out;
  }();
  *total = 0;
  for (const auto& one : *ones) *total += one.bytes.size();
  return *ones;
}

void BM_LabvirtPerKind(benchmark::State& state) {
  size_t total;
  const auto& ones = PerKindFixture(&total);
  std::vector<ReadinessMatch> matches;
  for (auto _ : state) {
    matches.clear();
    for (const auto& one : ones) {
      (void)one.scanner->Reset();
      std::string_view in = one.bytes;
      for (size_t i = 0; i < in.size(); i += 4096) {
        (void)one.scanner->Feed(in.substr(i, 4096), &matches);
      }
    }
    benchmark::DoNotOptimize(matches.data());
  }
  SetCounters(state, total, matches.size());
  state.SetLabel("per-kind test specs");
}

// Streams `text` through `db` in 4 KiB blocks, counting matches: Hyperscan with nothing of ours
// around it.
size_t ScanStripped(const hs_database_t* db, hs_scratch_t* scratch, std::string_view text) {
  size_t matches = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
    ++*static_cast<size_t*>(ctx);
    return 0;
  };
  hs_stream_t* stream = nullptr;
  if (hs_open_stream(db, 0, &stream) != HS_SUCCESS) std::abort();
  for (size_t i = 0; i < text.size(); i += 4096) {
    const unsigned len = static_cast<unsigned>(std::min<size_t>(4096, text.size() - i));
    hs_scan_stream(stream, text.data() + i, len, 0, scratch, on_match, &matches);
  }
  hs_close_stream(stream, scratch, on_match, &matches);
  return matches;
}

// The ceiling for scanner/labvirt_per_kind: each kind's own database over its already stripped
// text, rates counted in raw console bytes as there (what labvirt would reach if stripping and
// its own bookkeeping were free).
void BM_HyperscanOnlyPerKind(benchmark::State& state) {
  size_t total;
  const auto& ones = PerKindFixture(&total);
  size_t matches = 0;
  for (auto _ : state) {
    matches = 0;
    for (const auto& one : ones) {
      matches += ScanStripped(one.patterns->database(), ThreadScratch(*one.patterns), one.text);
    }
  }
  SetCounters(state, total, matches);
  state.SetLabel("per-kind test specs");
}

// Hyperscan alone: the same database over the already stripped text, streamed in 4 KiB blocks —
// the ceiling for scanner/labvirt (what it would reach if stripping were free). Rates count the
// raw console bytes the text came from, as scanner/labvirt does, so the two compare directly.
void BM_HyperscanOnly(benchmark::State& state) {
  const Fixture& f = Get();
  std::string text;
  Vt100Stripper st;
  st.Feed(f.corpus, &text);
  size_t matches = 0;
  for (auto _ : state) {
    matches = ScanStripped(f.compiled->database(), ThreadScratch(*f.compiled), text);
  }
  SetCounters(state, f.corpus.size(), matches);
}

// The stripper alone, to show where the time goes.
void BM_StripperOnly(benchmark::State& state) {
  const Fixture& f = Get();
  Vt100Stripper st;
  std::string out;
  std::string_view in = f.corpus;
  for (auto _ : state) {
    out.clear();
    for (size_t i = 0; i < in.size(); i += 4096) st.Feed(in.substr(i, 4096), &out);
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, f.corpus.size(), 0);
}

// std::regex: every pattern searched in every stripped line (`^` is a line start there).
void BM_StdRegex(benchmark::State& state) {
  const Fixture& f = Get();
  std::vector<std::regex> res;
  for (const auto& p : f.patterns) res.emplace_back(p, std::regex::ECMAScript | std::regex::icase);
  size_t bytes = 0;
  for (const auto& l : f.lines) bytes += l.size() + 1;
  size_t matches = 0;
  for (auto _ : state) {
    matches = 0;
    std::vector<bool> seen(res.size(), false);
    for (const auto& line : f.lines) {
      for (size_t i = 0; i < res.size(); ++i) {
        if (!seen[i] && std::regex_search(line, res[i])) {
          seen[i] = true;
          ++matches;
        }
      }
    }
  }
  SetCounters(state, bytes, matches);
}

// RE2::Set: all patterns in one automaton, matched per stripped line.
void BM_Re2Set(benchmark::State& state) {
  const Fixture& f = Get();
  RE2::Options o;
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  RE2::Set set(o, RE2::UNANCHORED);
  for (const auto& p : f.patterns) {
    if (set.Add(p, nullptr) < 0) std::abort();
  }
  if (!set.Compile()) std::abort();
  size_t bytes = 0;
  for (const auto& l : f.lines) bytes += l.size() + 1;
  size_t matches = 0;
  std::vector<int> hit;
  for (auto _ : state) {
    matches = 0;
    for (const auto& line : f.lines) {
      hit.clear();
      if (set.Match(line, &hit)) matches += hit.size();
    }
  }
  SetCounters(state, bytes, matches);
}

// Rates are per CPU second of the scanning thread (no UseRealTime): the targets are per core, and
// the machines these run on are shared, so wall time would measure the neighbours.
BENCHMARK(BM_Labvirt)->Name("scanner/labvirt");
BENCHMARK(BM_LabvirtPerKind)->Name("scanner/labvirt_per_kind");
BENCHMARK(BM_HyperscanOnly)->Name("scanner/hyperscan_only");
BENCHMARK(BM_HyperscanOnlyPerKind)->Name("scanner/hyperscan_only_per_kind");
BENCHMARK(BM_StripperOnly)->Name("scanner/stripper_only");
BENCHMARK(BM_Re2Set)->Name("scanner/re2_set_per_line");
BENCHMARK(BM_StdRegex)->Name("scanner/std_regex_per_line")->Iterations(3);

}  // namespace
}  // namespace labvirt::engine

BENCHMARK_MAIN();
