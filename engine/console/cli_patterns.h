// CliPatterns: one kind's CLI patterns (providers::CliSpec) compiled once with Hyperscan in block
// mode, case-insensitive, each pattern reporting at most one match. Prompt-like patterns are
// scanned over the unfinished last line of console text (`^` is its start, `$` its end), the
// others over one whole line at a time (without its line end).
//
// Immutable after Compile() except for its Hyperscan scratch space: use one object from one thread
// (labvirtd: the loop thread), shared by every node of the kind.
#ifndef LABVIRT_ENGINE_CONSOLE_CLI_PATTERNS_H_
#define LABVIRT_ENGINE_CONSOLE_CLI_PATTERNS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

// What the unfinished last line of console text is asking for, most specific first.
enum class CliTail { kNone, kAnswer, kMore, kPassword, kLogin, kPrompt };

struct CliTailMatch {
  CliTail what = CliTail::kNone;
  size_t answer = 0;  // for kAnswer: index into spec.answers
};

class CliPatterns {
 public:
  // InvalidArgument naming the pattern ("cli.errors[1]: …") when one does not compile; a spec
  // without a prompt is refused (the kind has no console scripts).
  static Result<std::shared_ptr<const CliPatterns>> Compile(const providers::CliSpec& spec);
  ~CliPatterns();
  CliPatterns(const CliPatterns&) = delete;
  CliPatterns& operator=(const CliPatterns&) = delete;

  // The most specific of answers, more, password, login and prompt that `tail` matches.
  CliTailMatch ClassifyTail(std::string_view tail) const;
  bool IsError(std::string_view line) const { return Matches(errors_, line); }
  bool IsConfigBegin(std::string_view line) const { return Matches(begin_, line); }
  bool IsConfigEnd(std::string_view line) const { return Matches(end_, line); }
  bool IsStripped(std::string_view line) const { return Matches(strip_, line); }
  bool has_config_begin() const { return begin_.db != nullptr; }
  bool has_config_end() const { return end_.db != nullptr; }
  const providers::CliSpec& spec() const { return spec_; }

 private:
  // One compiled database of patterns; null when the list is empty.
  struct Db {
    void* db = nullptr;  // hs_database_t*
    std::vector<int> ids;
  };
  CliPatterns() = default;
  Status Build(Db* db, const std::vector<std::string>& patterns, const std::vector<int>& ids,
               const std::string& field);
  // The lowest id that matches `text` in `db`, or -1.
  int FirstMatch(const Db& db, std::string_view text) const;
  bool Matches(const Db& db, std::string_view text) const { return FirstMatch(db, text) >= 0; }

  providers::CliSpec spec_;
  Db tail_, errors_, begin_, end_, strip_;
  mutable void* scratch_ = nullptr;  // hs_scratch_t*, grown for every database
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CLI_PATTERNS_H_
