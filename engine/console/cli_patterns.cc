#include "engine/console/cli_patterns.h"

#include <hs/hs.h>

#include <climits>

namespace labvirt::engine {
namespace {

// Tail pattern ids: answers first (most specific), then the pager, password, login and prompt.
constexpr int kMoreId = 1000, kPasswordId = 1001, kLoginId = 1002, kPromptId = 1003;

int OnMatch(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  int* best = static_cast<int*>(ctx);
  if (*best < 0 || static_cast<int>(id) < *best) *best = static_cast<int>(id);
  return 0;  // go on: a more specific pattern may match later in the text
}

}  // namespace

CliPatterns::~CliPatterns() {
  for (Db* db : {&tail_, &errors_, &begin_, &end_, &strip_}) {
    hs_free_database(static_cast<hs_database_t*>(db->db));
  }
  hs_free_scratch(static_cast<hs_scratch_t*>(scratch_));
}

Status CliPatterns::Build(Db* db, const std::vector<std::string>& patterns,
                          const std::vector<int>& ids, const std::string& field) {
  if (patterns.empty()) return Status::Ok();
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, hs_ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    exprs.push_back(patterns[i].c_str());
    flags.push_back(HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    hs_ids.push_back(static_cast<unsigned>(ids[i]));
  }
  hs_database_t* out = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), hs_ids.data(),
                       static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &out,
                       &error) != HS_SUCCESS) {
    std::string which = error && error->expression >= 0
                            ? "'" + patterns[static_cast<size_t>(error->expression)] + "'"
                            : "a pattern";
    std::string msg = error ? error->message : "unknown error";
    hs_free_compile_error(error);
    return InvalidArgument(field + ": " + which + " does not compile: " + msg);
  }
  db->db = out;
  db->ids = ids;
  auto* scratch = static_cast<hs_scratch_t*>(scratch_);
  if (hs_alloc_scratch(out, &scratch) != HS_SUCCESS) {
    return Internal(field + ": Hyperscan could not allocate scratch space");
  }
  scratch_ = scratch;
  return Status::Ok();
}

Result<std::shared_ptr<const CliPatterns>> CliPatterns::Compile(const providers::CliSpec& spec) {
  if (spec.prompt.empty()) return InvalidArgument("cli.prompt: the kind has no console scripts");
  std::shared_ptr<CliPatterns> p(new CliPatterns());
  p->spec_ = spec;
  std::vector<std::string> tail;
  std::vector<int> ids;
  for (size_t i = 0; i < spec.answers.size(); ++i) {
    tail.push_back(spec.answers[i].expect);
    ids.push_back(static_cast<int>(i));
  }
  for (auto [pattern, id] :
       {std::pair{&spec.more_prompt, kMoreId}, std::pair{&spec.password_prompt, kPasswordId},
        std::pair{&spec.login_prompt, kLoginId}, std::pair{&spec.prompt, kPromptId}}) {
    if (pattern->empty()) continue;
    tail.push_back(*pattern);
    ids.push_back(id);
  }
  LABVIRT_RETURN_IF_ERROR(p->Build(&p->tail_, tail, ids, "cli (prompts)"));
  auto numbered = [](size_t n) {
    std::vector<int> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<int>(i);
    return v;
  };
  LABVIRT_RETURN_IF_ERROR(
      p->Build(&p->errors_, spec.errors, numbered(spec.errors.size()), "cli.errors"));
  LABVIRT_RETURN_IF_ERROR(
      p->Build(&p->strip_, spec.strip, numbered(spec.strip.size()), "cli.strip"));
  if (!spec.config_begin.empty()) {
    LABVIRT_RETURN_IF_ERROR(p->Build(&p->begin_, {spec.config_begin}, {0}, "cli.config_begin"));
  }
  if (!spec.config_end.empty()) {
    LABVIRT_RETURN_IF_ERROR(p->Build(&p->end_, {spec.config_end}, {0}, "cli.config_end"));
  }
  return std::shared_ptr<const CliPatterns>(std::move(p));
}

int CliPatterns::FirstMatch(const Db& db, std::string_view text) const {
  if (db.db == nullptr || text.size() > UINT_MAX) return -1;
  int best = -1;
  hs_scan(static_cast<const hs_database_t*>(db.db), text.data(), static_cast<unsigned>(text.size()),
          0, static_cast<hs_scratch_t*>(scratch_), OnMatch, &best);
  return best;
}

CliTailMatch CliPatterns::ClassifyTail(std::string_view tail) const {
  int id = FirstMatch(tail_, tail);
  switch (id) {
    case -1:
      return {};
    case kMoreId:
      return {CliTail::kMore, 0};
    case kPasswordId:
      return {CliTail::kPassword, 0};
    case kLoginId:
      return {CliTail::kLogin, 0};
    case kPromptId:
      return {CliTail::kPrompt, 0};
    default:
      return {CliTail::kAnswer, static_cast<size_t>(id)};
  }
}

}  // namespace labvirt::engine
