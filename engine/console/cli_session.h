// CliSession: one console script run against a device's CLI — wakes the console, logs in when
// asked, answers the kind's questions and pager, types each command once the prompt shows, checks
// each answer for the kind's error lines, and captures the answers it is asked to. Pure logic: it
// neither owns nor knows the console; the owner feeds it console bytes (OnOutput), types what it
// asks (Callbacks::type) and runs its idle timer (Callbacks::arm_timer, OnTimeout).
//
// A command is complete when, after at least one line end since it was typed (its echo), the last
// unfinished line matches the kind's prompt. Errors name the node, the command (and the line of a
// pasted config it came from) and the device's answer.
//
// Loop thread only; `done` is called once, and nothing after it.
#ifndef LABVIRT_ENGINE_CONSOLE_CLI_SESSION_H_
#define LABVIRT_ENGINE_CONSOLE_CLI_SESSION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/console/cli_patterns.h"
#include "engine/console/vt100_stripper.h"
#include "providers/device_kind.h"
#include "reactor/base/status.h"

namespace labvirt::engine {

struct CliCommand {
  std::string text;
  bool check_errors = true;  // an answer line matching cli.errors fails the script
  bool capture = false;      // keep the answer's lines (CliSession's `captured`)
  int config_line = 0;       // the line of the pasted config it came from (0: a script command)
};

// The commands that paste `config` (setup, config_enter, each line, config_exit, config_save).
// Blank lines, lines starting with cli.comment and lines equal to a config_exit command (a
// config's own trailing "end") are not typed. Setup commands are not checked for errors (they
// may not apply in the mode the console was left in).
std::vector<CliCommand> PasteScript(const providers::CliSpec& spec, std::string_view config);
// The commands that read the running config back (setup, show_config captured).
std::vector<CliCommand> ShowConfigScript(const providers::CliSpec& spec);
// The config in a captured show_config answer: from the first config_begin line to the first
// config_end line after it (both kept; the whole answer when unset), without strip lines, each
// line ending in "\n".
std::string ExtractConfig(const CliPatterns& patterns, const std::vector<std::string>& lines);

struct CliSessionCallbacks {
  std::function<void(std::string bytes)> type;                 // write to the console
  std::function<void(std::chrono::seconds)> arm_timer;         // (re)start the idle timer
  std::function<void(int done, int total)> progress;           // optional; after each command
  std::function<void(Status, std::vector<std::string>)> done;  // once; the captured lines
};

class CliSession {
 public:
  // Caps what one command's answer may hold (a device printing without end must not grow us).
  static constexpr size_t kMaxAnswerBytes = 8 * 1024 * 1024;

  CliSession(std::shared_ptr<const CliPatterns> patterns, providers::Credentials credentials,
             std::vector<CliCommand> commands, std::string node, CliSessionCallbacks callbacks);

  // Types a CR (a fresh prompt, or the login) and starts the idle timer.
  void Start();
  void OnOutput(std::string_view bytes);
  // The idle timer ran out: no prompt within cli.line_timeout_s of the last output.
  void OnTimeout();
  // Ends the script from outside (console closed, lease lost): `done` gets `why`.
  void Abort(Status why);
  bool finished() const { return finished_; }

 private:
  void Process();
  void TypeLine(const std::string& line);
  void CommandDone(std::string_view answer);
  void Finish(Status status);
  std::string Current() const;  // "command `x` (config line N)" for messages

  std::shared_ptr<const CliPatterns> patterns_;
  providers::Credentials credentials_;
  std::vector<CliCommand> commands_;
  std::string node_;
  CliSessionCallbacks callbacks_;
  Vt100Stripper stripper_;
  std::string text_;      // console text since the last line typed: stripped, no CRs, BS applied
  bool echoed_ = false;   // a line end came since the last line typed
  bool started_ = false;  // the first prompt was seen: commands_ run from next_
  size_t next_ = 0;       // the command awaiting its prompt (once started_)
  int logins_ = 0;        // usernames and passwords typed (a loop of them is a refusal)
  std::vector<std::string> captured_;
  bool finished_ = false;
};

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONSOLE_CLI_SESSION_H_
