// FlagParser: command-line flags from a declarative table, for labvirtd and labvirtctl.
//
// A flag is written `--name value`, `--name=value`, or for a switch `--name`. An argument is a
// flag when it starts with "--" or is exactly a table name (a short alias such as "-h"); anything
// else is a positional argument. A switch written with "=value" is an unknown flag.
//
// The parser reports what went wrong (FlagError) and leaves the wording to the caller, because
// labvirtd and labvirtctl word their messages differently and the messages are part of their
// interfaces. Setters run in argument order as each flag is read; the first error stops parsing.
#ifndef LABVIRT_REACTOR_BASE_FLAG_PARSER_H_
#define LABVIRT_REACTOR_BASE_FLAG_PARSER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt {

struct Flag {
  std::string name;  // as typed: "--socket", or a short alias such as "-h"
  bool takes_value = false;
  std::string value_name;  // for Help(): "PATH"
  // For Help(); lines after the first are continuation lines. An empty help hides the flag.
  std::string help;
  // Called with the value ("" for a switch); an error stops parsing (FlagError::kBadValue).
  std::function<Status(const std::string& value)> set;
};

struct FlagError {
  enum class Kind {
    kUnexpectedArgument,  // a positional argument where none is taken
    kUnknownFlag,         // not in the table, or a switch given "=value"
    kMissingValue,        // a value flag at the end of the arguments
    kBadValue,            // the setter refused the value: see `status`
  };
  Kind kind;
  std::string arg;   // the argument at fault, as typed ("--bytes=x", "stray")
  std::string flag;  // its flag name without any "=value" ("--bytes"); empty for a positional
  Status status;     // kBadValue only
};

// What Parse does with arguments that are not flags of its table.
enum class Positionals {
  kRefuse,  // an error (kUnexpectedArgument)
  kKeep,    // returned in `rest`, in order; parsing goes on
  kStop,    // parsing stops: it and every argument after it are returned in `rest`
};
enum class UnknownFlags {
  kRefuse,  // an error (kUnknownFlag, or kMissingValue for a value flag with no value)
  kKeep,    // returned in `rest` as they are, for a later parser (a subcommand's)
};

struct FlagParse {
  std::vector<std::string> rest;  // see Positionals and UnknownFlags
  std::optional<FlagError> error;
  bool ok() const { return !error.has_value(); }
};

class FlagParser {
 public:
  // The setters may capture what they set by reference: it must outlive the parser's use.
  explicit FlagParser(std::vector<Flag> flags) : flags_(std::move(flags)) {}

  FlagParse Parse(const std::vector<std::string>& args, Positionals positionals,
                  UnknownFlags unknown) const;

  // One line per visible flag: two spaces, "NAME VALUE_NAME" padded to `column`, the help; its
  // continuation lines are indented to the same place.
  std::string Help(size_t column) const;

 private:
  const Flag* Find(const std::string& name) const;

  std::vector<Flag> flags_;
};

}  // namespace labvirt

#endif  // LABVIRT_REACTOR_BASE_FLAG_PARSER_H_
