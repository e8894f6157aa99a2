#include "engine/readiness/readiness_patterns.h"

#include <atomic>

namespace labvirt::engine {
namespace {

constexpr unsigned kFlags = HS_FLAG_CASELESS | HS_FLAG_MULTILINE | HS_FLAG_SINGLEMATCH;

std::atomic<uint64_t> next_serial{1};

std::vector<PatternInfo> Flatten(const providers::ReadinessSpec& spec) {
  std::vector<PatternInfo> out;
  for (size_t i = 0; i < spec.success.size(); ++i) {
    out.push_back({MatchKind::kSuccess, i, spec.success[i]});
  }
  for (size_t i = 0; i < spec.progress.size(); ++i) {
    out.push_back({MatchKind::kProgress, i, spec.progress[i].pattern});
  }
  for (size_t i = 0; i < spec.failure.size(); ++i) {
    out.push_back({MatchKind::kFailure, i, spec.failure[i].pattern});
  }
  return out;
}

const char* KindName(MatchKind k) {
  switch (k) {
    case MatchKind::kSuccess:
      return "success";
    case MatchKind::kProgress:
      return "progress";
    case MatchKind::kFailure:
      return "failure";
  }
  return "?";
}

// Checks one pattern on its own so the error names it (a multi-pattern compile error only gives
// an index).
Status CheckPattern(const PatternInfo& p) {
  std::string where = std::string(KindName(p.kind)) + " pattern '" + p.pattern + "'";
  if (p.pattern.empty()) return InvalidArgument(where + " is empty");
  if (size_t pos = FindDollarAnchor(p.pattern); pos != std::string::npos) {
    return InvalidArgument(where + " anchors with '$' at byte " + std::to_string(pos) +
                           ": a console prompt has no line end after it, so '$' never matches a "
                           "waiting prompt; anchor at the line start instead, e.g. "
                           "'(^|\\n)Router>' or '^Router>'");
  }
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(p.pattern.c_str(), kFlags, &info, &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    return InvalidArgument(where + " does not compile: " + msg);
  }
  bool empty = info->min_width == 0;
  bool eod_only = info->matches_only_at_eod != 0;
  free(info);  // allocated by Hyperscan's default allocator (malloc)
  if (empty) return InvalidArgument(where + " can match an empty string");
  if (eod_only) return InvalidArgument(where + " matches only at end of data, never on a stream");
  return Status::Ok();
}

}  // namespace

size_t FindDollarAnchor(const std::string& pattern) {
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      ++i;  // the escaped byte is literal
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      // "[]x]" and "[^]x]": a ']' right after the opening is literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;
      continue;
    }
    if (c == '$') return i;
  }
  return std::string::npos;
}

Status ValidateReadinessSpec(const providers::ReadinessSpec& spec) {
  if (spec.idle_timeout.count() < 0) return InvalidArgument("readiness idle_timeout is negative");
  if (spec.overall_timeout.count() < 0) {
    return InvalidArgument("readiness overall_timeout is negative");
  }
  if (spec.retries < 0) return InvalidArgument("readiness retries is negative");
  for (const auto& stage : spec.progress) {
    if (stage.percent < 0 || stage.percent > 100) {
      return InvalidArgument("progress pattern '" + stage.pattern + "' has percent " +
                             std::to_string(stage.percent) + ", outside 0-100");
    }
  }
  if (spec.none) return Status::Ok();
  if (spec.success.empty()) {
    return InvalidArgument("readiness needs at least one success pattern (or \"none\")");
  }
  for (const PatternInfo& p : Flatten(spec)) LABVIRT_RETURN_IF_ERROR(CheckPattern(p));
  return Status::Ok();
}

Result<std::shared_ptr<const ReadinessPatterns>> ReadinessPatterns::Compile(
    const providers::ReadinessSpec& spec, const std::string& kind) {
  const std::string ctx = kind.empty() ? "readiness" : "readiness of " + kind;
  if (Status s = ValidateReadinessSpec(spec); !s.ok()) return s.WithContext(ctx);
  std::shared_ptr<ReadinessPatterns> out(new ReadinessPatterns());
  out->spec_ = spec;
  out->serial_ = next_serial.fetch_add(1);
  if (spec.none) return std::shared_ptr<const ReadinessPatterns>(std::move(out));
  out->infos_ = Flatten(spec);
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (unsigned i = 0; i < out->infos_.size(); ++i) {
    exprs.push_back(out->infos_[i].pattern.c_str());
    flags.push_back(kFlags);
    ids.push_back(i);
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_STREAM, nullptr, &out->db_, &err) != HS_SUCCESS) {
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    return InvalidArgument(ctx + ": hyperscan compile failed: " + msg);
  }
  return std::shared_ptr<const ReadinessPatterns>(std::move(out));
}

ReadinessPatterns::~ReadinessPatterns() {
  if (db_) hs_free_database(db_);
}

}  // namespace labvirt::engine
