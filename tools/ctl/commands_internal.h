// Pieces shared by labvirtctl's subcommands (tools/ctl/commands*.cc). Not for other users: the
// public entry points are in tools/ctl/commands.h. Every function prints to stdout/stderr and
// returns the exit code documented there unless it says otherwise.
#ifndef LABVIRT_TOOLS_CTL_COMMANDS_INTERNAL_H_
#define LABVIRT_TOOLS_CTL_COMMANDS_INTERNAL_H_

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tools/ctl/client.h"
#include "tools/ctl/commands.h"

namespace labvirt::ctl::internal {

// Returned by an event handler that wants to keep reading.
inline constexpr int kContinue = -1;

// Prints "labvirtctl: MSG" on stderr; returns `code`.
int Fail(const std::string& msg, int code = 1);

// Positional arguments and --flags of a subcommand.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string>
      flags;  // "--force" -> "" ; "--bytes 10" / "--bytes=10" -> "10"
  bool Has(const std::string& f) const { return flags.count(f) > 0; }
};

// Splits `in` into positional arguments and the flags a subcommand takes: `switches` stand alone,
// `with_value` are followed by a value ("--bytes 10" or "--bytes=10"). An unknown flag or a
// missing value is an error naming it.
Result<Args> SplitArgs(const std::vector<std::string>& in, const std::set<std::string>& switches,
                       const std::set<std::string>& with_value);

// {"k":"v",...} with string values.
std::string Obj(std::initializer_list<std::pair<const char*, std::string>> kv);

// The outcome of one request.
struct CallResult {
  bool ok = false;
  std::string text;        // ok: the result JSON; otherwise a one-line message for people
  std::string error_json;  // the JSON-RPC error object when labvirtd answered with one
};

// Turns one answer line (or the failure to read it) into a CallResult.
CallResult ParseAnswer(const Result<std::string>& line);
// Connects, sends one request and reads its answer.
CallResult CallOnce(const Options& o, const std::string& method, const std::string& params);

// Field readers that yield "", 0 or false when the field is missing or of another type.
std::string Str(simdjson::dom::element el, const char* key);
int64_t Int(simdjson::dom::element el, const char* key);
bool Bool(simdjson::dom::element el, const char* key);
// A number field (integer or not); 0 when missing or of another type.
double Num(simdjson::dom::element el, const char* key);

// Why a queued node waits, in words with admission's numbers (a node's `queued_reason`,
// docs/protocol.md), e.g. "memory: needs 1088 MiB, 512 MiB available"; "" for null.
std::string QueuedWords(simdjson::dom::element queued_reason);

// Reports a failed call (one line on stderr: JSON with --json, else words) and returns 1.
int FailCall(const Options& o, const CallResult& r);
// Prints a result: as JSON with --json, else an object as "key value" lines. Returns 0, or
// FailCall's code when the call failed.
int Show(const Options& o, const CallResult& r);

// True when `doc` is an event notification ({"method":"event","params":{...}}).
bool IsEvent(simdjson::dom::element doc);
// Reads `client`'s lines until `handle` returns an exit code (anything but kContinue) or the
// connection ends (exit 1, reported). Lines that are not JSON are skipped. With --json each
// event's params are printed as one line before `handle` sees the line. stdout is flushed after
// every line, so a pipe sees events as they come.
int FollowEvents(Client& client, const Options& o,
                 const std::function<int(simdjson::dom::element doc)>& handle);

// The subcommands, by theme: commands_lab.cc, commands_node.cc, commands_events.cc.
int LabStatus(const Options& o, const Args& a);
int Deploy(const Options& o, const Args& a);
int Inventory(const Options& o, const Args& a);
// link: create, delete, up, down, impair (commands_link.cc).
int Link(const Options& o, const Args& a);
// "a>b delay_ms=20 loss_pct=1; b>a -" for a link object of lab.get; "-" when none.
std::string ImpairmentSummary(simdjson::dom::element link);
int Events(const Options& o, const Args& a);
int Console(const Options& o, const Args& a);
int Capture(const Options& o, const Args& a);
// `command` is what the user typed (for messages); `method` the request it sends.
int NodeCall(const Options& o, const Args& a, const std::string& command,
             const std::string& method);

}  // namespace labvirt::ctl::internal

#endif  // LABVIRT_TOOLS_CTL_COMMANDS_INTERNAL_H_
