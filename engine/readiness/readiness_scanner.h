// ReadinessScanner: one console stream's readiness matcher — raw console bytes go through a
// Vt100Stripper into a Hyperscan stream over a kind's compiled ReadinessPatterns, and come out as
// matches (success / progress / failure, with where they matched).
//
// Pure: no fd, no timer, no callback; ReadinessTracker turns matches into boot decisions.
// Matches do not depend on how the input is split across Feed() calls (Hyperscan keeps the
// stream state, the stripper its partial escape sequence).
//
// Thread: a scanner is used by one thread at a time. Hyperscan scratch space is kept per thread
// and grown for each database the thread scans, so databases are shared freely across nodes.
// Errors: Feed() fails only if Hyperscan itself fails (out of memory); console content never
// makes it fail.
#ifndef LABVIRT_ENGINE_READINESS_READINESS_SCANNER_H_
#define LABVIRT_ENGINE_READINESS_READINESS_SCANNER_H_

#include <hs/hs.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/console/vt100_stripper.h"
#include "engine/readiness/readiness_patterns.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct ReadinessMatch {
  unsigned id = 0;  // ReadinessPatterns::info(id)
  MatchKind kind = MatchKind::kSuccess;
  size_t index = 0;          // into the spec's success / progress / failure list
  uint64_t text_offset = 0;  // end of the match in the stripped text of this boot
  uint64_t raw_offset = 0;   // raw console bytes of this boot consumed when it was found

  bool operator==(const ReadinessMatch&) const = default;
};

class ReadinessScanner {
 public:
  // `patterns` may be shared with other scanners.
  explicit ReadinessScanner(std::shared_ptr<const ReadinessPatterns> patterns);
  ~ReadinessScanner();
  ReadinessScanner(const ReadinessScanner&) = delete;
  ReadinessScanner& operator=(const ReadinessScanner&) = delete;

  // Scans `raw` console bytes and appends matches, in stream order, to `*out`.
  Status Feed(std::string_view raw, std::vector<ReadinessMatch>* out);
  // Starts a new boot: forgets stream state, partial escapes and offsets.
  Status Reset();

  const ReadinessPatterns& patterns() const { return *patterns_; }
  uint64_t raw_bytes() const { return raw_bytes_; }
  uint64_t text_bytes() const { return text_bytes_; }

 private:
  struct StreamCloser {
    void operator()(hs_stream_t* s) const;
  };

  std::shared_ptr<const ReadinessPatterns> patterns_;
  Vt100Stripper stripper_;
  std::unique_ptr<hs_stream_t, StreamCloser> stream_;
  std::string text_;  // reused buffer for stripped text; its size is capacity, not content
  uint64_t raw_bytes_ = 0;
  uint64_t text_bytes_ = 0;
};

// The calling thread's scratch space, grown to fit `patterns`. Null only if allocation failed.
hs_scratch_t* ThreadScratch(const ReadinessPatterns& patterns);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_READINESS_READINESS_SCANNER_H_
