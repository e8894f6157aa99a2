#include "engine/console/cli_session.h"

#include <algorithm>
#include <utility>

namespace labvirt::engine {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// At most `max` bytes of `s` for a message, marked when cut.
std::string Excerpt(std::string_view s, size_t max = 200) {
  return s.size() <= max ? std::string(s) : std::string(s.substr(0, max)) + "…";
}

}  // namespace

std::vector<CliCommand> PasteScript(const providers::CliSpec& spec, std::string_view config) {
  std::vector<CliCommand> out;
  for (const auto& c : spec.setup) out.push_back({c, false, false, 0});
  for (const auto& c : spec.config_enter) out.push_back({c, true, false, 0});
  int number = 0;
  for (const std::string& raw : SplitLines(config)) {
    ++number;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view t = Trim(line);
    if (t.empty()) continue;
    if (!spec.comment.empty() && t.substr(0, spec.comment.size()) == spec.comment) continue;
    if (std::find(spec.config_exit.begin(), spec.config_exit.end(), t) != spec.config_exit.end()) {
      continue;
    }
    out.push_back({line, true, false, number});
  }
  for (const auto& c : spec.config_exit) out.push_back({c, true, false, 0});
  for (const auto& c : spec.config_save) out.push_back({c, true, false, 0});
  return out;
}

std::vector<CliCommand> ShowConfigScript(const providers::CliSpec& spec) {
  std::vector<CliCommand> out;
  for (const auto& c : spec.setup) out.push_back({c, false, false, 0});
  out.push_back({spec.show_config, true, true, 0});
  return out;
}

std::string ExtractConfig(const CliPatterns& patterns, const std::vector<std::string>& lines) {
  std::string out;
  bool in = !patterns.has_config_begin();
  for (const std::string& line : lines) {
    if (!in && patterns.IsConfigBegin(line)) in = true;
    if (!in) continue;
    if (!patterns.IsStripped(line)) out += line + "\n";
    if (patterns.has_config_end() && patterns.IsConfigEnd(line)) break;
  }
  return out;
}

CliSession::CliSession(std::shared_ptr<const CliPatterns> patterns,
                       providers::Credentials credentials, std::vector<CliCommand> commands,
                       std::string node, CliSessionCallbacks callbacks)
    : patterns_(std::move(patterns)),
      credentials_(std::move(credentials)),
      commands_(std::move(commands)),
      node_(std::move(node)),
      callbacks_(std::move(callbacks)) {}

void CliSession::Start() { TypeLine(""); }

void CliSession::TypeLine(const std::string& line) {
  text_.clear();
  echoed_ = false;
  callbacks_.arm_timer(std::chrono::seconds(patterns_->spec().line_timeout_s));
  callbacks_.type(line + "\r");
}

void CliSession::OnOutput(std::string_view bytes) {
  if (finished_) return;
  // A backspace moves the cursor back over the line, as a terminal does (pagers and line
  // editors wipe text with BS, space, BS): the stripper would drop it and leave the text.
  for (size_t bs; (bs = bytes.find('\b')) != std::string_view::npos; bytes.remove_prefix(bs + 1)) {
    stripper_.Feed(bytes.substr(0, bs), &text_);
    if (!text_.empty() && text_.back() != '\n') text_.pop_back();
  }
  stripper_.Feed(bytes, &text_);
  if (text_.size() > kMaxAnswerBytes) {
    return Finish(ResourceExhausted("node " + node_ + ": the answer to " + Current() +
                                    " is longer than " + std::to_string(kMaxAnswerBytes) +
                                    " bytes without a prompt"));
  }
  callbacks_.arm_timer(std::chrono::seconds(patterns_->spec().line_timeout_s));
  Process();
}

void CliSession::Process() {
  if (!echoed_) {
    if (text_.find('\n') == std::string::npos) return;
    echoed_ = true;
  }
  const size_t nl = text_.rfind('\n');
  const std::string_view tail =
      std::string_view(text_).substr(nl == std::string::npos ? 0 : nl + 1);
  const CliTailMatch m = patterns_->ClassifyTail(tail);
  const providers::CliSpec& spec = patterns_->spec();
  switch (m.what) {
    case CliTail::kNone:
      return;
    case CliTail::kMore:
      // The pager's prompt is not part of the answer; a space shows the next page. The device then
      // wipes the prompt (BS, space, BS): at the start of the line now, those cancel out.
      text_.resize(text_.size() - tail.size());
      callbacks_.type(" ");
      return;
    case CliTail::kAnswer: {
      // A question inside a command's answer ("[confirm]"): answered, the command goes on.
      text_.resize(text_.size() - tail.size());
      callbacks_.type(spec.answers[m.answer].send + "\r");
      return;
    }
    case CliTail::kLogin:
    case CliTail::kPassword: {
      if (++logins_ > 6) {
        return Finish(FailedPrecondition("node " + node_ + ": the console keeps asking for " +
                                         (m.what == CliTail::kLogin ? "a login" : "a password") +
                                         ": the credentials were refused"));
      }
      // Not TypeLine: the command waiting for its prompt is still the same one.
      text_.clear();
      echoed_ = false;
      callbacks_.type((m.what == CliTail::kLogin ? credentials_.username : credentials_.password) +
                      "\r");
      return;
    }
    case CliTail::kPrompt:
      CommandDone(std::string_view(text_).substr(0, nl == std::string::npos ? 0 : nl));
      return;
  }
}

void CliSession::CommandDone(std::string_view answer) {
  if (!started_) {
    // The CR that woke the console: its answer is whatever was on the screen.
    started_ = true;
  } else {
    const CliCommand& c = commands_[next_];
    std::vector<std::string> lines = SplitLines(answer);
    // The first line is the rest of the prompt's line: the command's echo.
    if (!lines.empty()) lines.erase(lines.begin());
    if (c.check_errors) {
      for (const auto& line : lines) {
        if (patterns_->IsError(line)) {
          return Finish(InvalidArgument("node " + node_ + ": " + Current() +
                                        " was refused: " + Excerpt(Trim(line))));
        }
      }
    }
    if (c.capture) captured_.insert(captured_.end(), lines.begin(), lines.end());
    ++next_;
    if (callbacks_.progress) {
      callbacks_.progress(static_cast<int>(next_), static_cast<int>(commands_.size()));
    }
  }
  if (next_ == commands_.size()) return Finish(Status::Ok());
  TypeLine(commands_[next_].text);
}

void CliSession::OnTimeout() {
  if (finished_) return;
  const size_t nl = text_.rfind('\n');
  std::string last = text_.substr(nl == std::string::npos ? 0 : nl + 1);
  Finish(Status(StatusCode::kDeadlineExceeded,
                "node " + node_ + ": no prompt within " +
                    std::to_string(patterns_->spec().line_timeout_s) + " s after " + Current() +
                    (last.empty() ? "" : " (the console shows '" + Excerpt(Trim(last)) + "')")));
}

void CliSession::Abort(Status why) {
  if (!finished_) Finish(std::move(why));
}

std::string CliSession::Current() const {
  if (!started_) return "waking the console";
  if (next_ >= commands_.size()) return "the script";
  const CliCommand& c = commands_[next_];
  std::string s = "command '" + Excerpt(c.text, 120) + "'";
  if (c.config_line > 0) s += " (config line " + std::to_string(c.config_line) + ")";
  return s;
}

void CliSession::Finish(Status status) {
  finished_ = true;
  callbacks_.done(std::move(status), std::move(captured_));
}

}  // namespace labvirt::engine
