#include "engine/readiness/readiness_scanner.h"

#include <unordered_set>

namespace labvirt::engine {
namespace {

// One scratch per thread, grown once for each database it meets: hs_alloc_scratch on every Feed
// would cost a check per read, and scratch must never be shared between threads.
struct ThreadScratchHolder {
  hs_scratch_t* scratch = nullptr;
  std::unordered_set<uint64_t> fitted;  // serials of databases the scratch was grown for
  ~ThreadScratchHolder() {
    if (scratch) hs_free_scratch(scratch);
  }
};

struct CallbackContext {
  const ReadinessPatterns* patterns;
  std::vector<ReadinessMatch>* out;
  uint64_t text_base;  // text offset of the start of this boot's stream (always 0 today)
  uint64_t raw_offset;
};

int OnMatch(unsigned id, unsigned long long /*from*/, unsigned long long to, unsigned /*flags*/,
            void* ctx_ptr) {
  auto* ctx = static_cast<CallbackContext*>(ctx_ptr);
  const PatternInfo& info = ctx->patterns->info(id);
  ctx->out->push_back({id, info.kind, info.index, ctx->text_base + to, ctx->raw_offset});
  return 0;  // keep scanning: a chunk may hold progress and success
}

}  // namespace

hs_scratch_t* ThreadScratch(const ReadinessPatterns& patterns) {
  thread_local ThreadScratchHolder holder;
  if (!patterns.database()) return holder.scratch;
  if (!holder.fitted.contains(patterns.serial())) {
    if (hs_alloc_scratch(patterns.database(), &holder.scratch) != HS_SUCCESS) return nullptr;
    holder.fitted.insert(patterns.serial());
  }
  return holder.scratch;
}

void ReadinessScanner::StreamCloser::operator()(hs_stream_t* s) const {
  // Without scratch and callback Hyperscan frees the stream without reporting end-of-data matches.
  hs_close_stream(s, nullptr, nullptr, nullptr);
}

ReadinessScanner::ReadinessScanner(std::shared_ptr<const ReadinessPatterns> patterns)
    : patterns_(std::move(patterns)) {
  (void)Reset();
}

ReadinessScanner::~ReadinessScanner() = default;

Status ReadinessScanner::Reset() {
  stripper_.Reset();
  raw_bytes_ = 0;
  text_bytes_ = 0;
  stream_.reset();
  if (!patterns_->database()) return Status::Ok();
  hs_stream_t* s = nullptr;
  if (hs_open_stream(patterns_->database(), 0, &s) != HS_SUCCESS) {
    return ResourceExhausted("hyperscan: cannot open a stream");
  }
  stream_.reset(s);
  return Status::Ok();
}

Status ReadinessScanner::Feed(std::string_view raw, std::vector<ReadinessMatch>* out) {
  raw_bytes_ += raw.size();
  if (!stream_) {
    if (!patterns_->database()) return Status::Ok();
    LABVIRT_RETURN_IF_ERROR(Reset());
  }
  // text_ only grows, so the stripper writes into storage that is not re-zeroed per read.
  if (text_.size() < raw.size()) text_.resize(raw.size());
  const size_t text_size = stripper_.Feed(raw, text_.data());
  if (text_size == 0) return Status::Ok();
  hs_scratch_t* scratch = ThreadScratch(*patterns_);
  if (!scratch) return ResourceExhausted("hyperscan: cannot allocate scratch space");
  CallbackContext ctx{patterns_.get(), out, 0, raw_bytes_};
  // Hyperscan takes an unsigned length; console reads are far below 4 GiB but be exact anyway.
  size_t done = 0;
  while (done < text_size) {
    size_t len = std::min<size_t>(text_size - done, 1u << 30);
    hs_error_t err = hs_scan_stream(stream_.get(), text_.data() + done, static_cast<unsigned>(len),
                                    0, scratch, OnMatch, &ctx);
    if (err != HS_SUCCESS) {
      return Internal("hyperscan: hs_scan_stream failed with " + std::to_string(err));
    }
    done += len;
  }
  text_bytes_ += text_size;
  return Status::Ok();
}

}  // namespace labvirt::engine
