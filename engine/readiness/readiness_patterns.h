// ReadinessPatterns: the readiness regexes of one device kind compiled once into a Hyperscan
// streaming database, plus what each pattern id means (success, progress stage, failure).
//
// Compile once per kind and share the result across every node of that kind: the object is
// immutable after Compile() and safe to use from any thread (Hyperscan scratch space is
// per thread, see ReadinessScanner). It is handed out as shared_ptr<const …> because it is
// genuinely shared immutable data whose last user may be a node booting after a catalog reload.
//
// Patterns are compiled with HS_FLAG_CASELESS | HS_FLAG_MULTILINE | HS_FLAG_SINGLEMATCH: matching
// ignores case, `^` also matches after each "\n" of the stripped text, `.` does not cross a line
// end, and each pattern reports at most once per boot.
#ifndef LABVIRT_ENGINE_READINESS_READINESS_PATTERNS_H_
#define LABVIRT_ENGINE_READINESS_READINESS_PATTERNS_H_

#include <hs/hs.h>

#include <memory>
#include <string>
#include <vector>

#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

enum class MatchKind { kSuccess, kProgress, kFailure };

// What one compiled pattern id stands for.
struct PatternInfo {
  MatchKind kind = MatchKind::kSuccess;
  size_t index = 0;  // into spec.success / spec.progress / spec.failure
  std::string pattern;
};

// Checks a spec the way the catalog must before accepting it: at least one success pattern
// (unless `none`), every pattern compiles in Hyperscan streaming mode, matches no empty string,
// and does not anchor with `$` (a prompt has no line end after it, so `Router>$` would never
// match a waiting prompt); percents within 0–100; timeouts and retries not negative. The error
// message names the offending pattern and says why.
Status ValidateReadinessSpec(const providers::ReadinessSpec& spec);

// Returns the byte position of an unescaped `$` outside a character class in `pattern`, or
// std::string::npos. Exposed for tests.
size_t FindDollarAnchor(const std::string& pattern);

class ReadinessPatterns {
 public:
  // Validates and compiles `spec` (for a `none` spec there is nothing to compile: database() is
  // null and every scan finds nothing). `kind` names the device kind in error messages.
  static Result<std::shared_ptr<const ReadinessPatterns>> Compile(
      const providers::ReadinessSpec& spec, const std::string& kind = "");
  ~ReadinessPatterns();
  ReadinessPatterns(const ReadinessPatterns&) = delete;
  ReadinessPatterns& operator=(const ReadinessPatterns&) = delete;

  // Null for a spec without patterns.
  const hs_database_t* database() const { return db_; }
  // Unique per compiled database in this process (for per-thread scratch bookkeeping).
  uint64_t serial() const { return serial_; }
  const PatternInfo& info(unsigned id) const { return infos_[id]; }
  size_t size() const { return infos_.size(); }
  const providers::ReadinessSpec& spec() const { return spec_; }

 private:
  ReadinessPatterns() = default;

  providers::ReadinessSpec spec_;
  std::vector<PatternInfo> infos_;
  hs_database_t* db_ = nullptr;
  uint64_t serial_ = 0;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_READINESS_READINESS_PATTERNS_H_
