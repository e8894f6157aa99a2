// ParseCli (catalog_cli.h) and ValidateCli (catalog_validate.h).
#include "engine/catalog/catalog_cli.h"

#include "engine/catalog/catalog_validate.h"

namespace labvirt::engine {
namespace {

Status Bad(const std::string& field, const std::string& what) {
  return InvalidArgument(field + ": " + what);
}

Status ParseAnswers(ObjectReader& cli, std::vector<providers::CliAnswer>* out) {
  auto answers = cli.Element("answers", false);
  if (!answers.ok()) return answers.status();
  if (!answers.value()) return Status::Ok();
  simdjson::dom::array list;
  if ((**answers).get_array().get(list) != simdjson::SUCCESS) {
    return Bad("cli.answers", "must be an array of {expect, send}");
  }
  size_t i = 0;
  for (simdjson::dom::element e : list) {
    std::string path = "cli.answers[" + std::to_string(i++) + "]";
    auto obj = AsObject(e, path);
    if (!obj.ok()) return obj.status();
    ObjectReader a(*obj, path);
    LABVIRT_RETURN_IF_ERROR(a.CheckDuplicates());
    providers::CliAnswer answer;
    LABVIRT_RETURN_IF_ERROR(a.String("expect", &answer.expect, true));
    LABVIRT_RETURN_IF_ERROR(a.String("send", &answer.send, true));
    LABVIRT_RETURN_IF_ERROR(a.CheckNoUnknown());
    out->push_back(std::move(answer));
  }
  return Status::Ok();
}

// A command is typed as one line: no control characters (a CR inside would type two lines).
Status CheckCommand(const std::string& field, const std::string& command, bool may_be_empty) {
  if (command.empty() && !may_be_empty) return Bad(field, "is empty");
  if (command.size() > 256) return Bad(field, "is longer than 256 bytes");
  for (char c : command) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Bad(field, "contains a control character");
    }
  }
  return Status::Ok();
}

Status CheckCommands(const std::string& field, const std::vector<std::string>& commands) {
  if (commands.size() > 16) return Bad(field, "has more than 16 commands");
  for (size_t i = 0; i < commands.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        CheckCommand(field + "[" + std::to_string(i) + "]", commands[i], false));
  }
  return Status::Ok();
}

Status CheckPatterns(const std::string& field, const std::vector<std::string>& patterns) {
  if (patterns.size() > 32) return Bad(field, "has more than 32 patterns");
  for (size_t i = 0; i < patterns.size(); ++i) {
    LABVIRT_RETURN_IF_ERROR(
        ValidatePattern(field + "[" + std::to_string(i) + "]", patterns[i], true));
  }
  return Status::Ok();
}

// An optional pattern: empty means "none".
Status CheckOptional(const std::string& field, const std::string& pattern) {
  return pattern.empty() ? Status::Ok() : ValidatePattern(field, pattern, true);
}

}  // namespace

Status ParseCli(ObjectReader& kind, providers::DeviceKind* k) {
  auto cli = kind.Element("cli", false);
  if (!cli.ok()) return cli.status();
  if (!cli.value()) return Status::Ok();
  auto obj = AsObject(**cli, "cli");
  if (!obj.ok()) return obj.status();
  ObjectReader c(*obj, "cli");
  LABVIRT_RETURN_IF_ERROR(c.CheckDuplicates());
  providers::CliSpec& s = k->cli;
  LABVIRT_RETURN_IF_ERROR(c.String("prompt", &s.prompt, true));
  LABVIRT_RETURN_IF_ERROR(c.String("login_prompt", &s.login_prompt, false));
  LABVIRT_RETURN_IF_ERROR(c.String("password_prompt", &s.password_prompt, false));
  LABVIRT_RETURN_IF_ERROR(c.String("more_prompt", &s.more_prompt, false));
  LABVIRT_RETURN_IF_ERROR(ParseAnswers(c, &s.answers));
  LABVIRT_RETURN_IF_ERROR(c.StringList("setup", &s.setup, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("config_enter", &s.config_enter, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("config_exit", &s.config_exit, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("config_save", &s.config_save, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("errors", &s.errors, false));
  LABVIRT_RETURN_IF_ERROR(c.String("comment", &s.comment, false));
  LABVIRT_RETURN_IF_ERROR(c.String("show_config", &s.show_config, false));
  LABVIRT_RETURN_IF_ERROR(c.String("config_begin", &s.config_begin, false));
  LABVIRT_RETURN_IF_ERROR(c.String("config_end", &s.config_end, false));
  LABVIRT_RETURN_IF_ERROR(c.StringList("strip", &s.strip, false));
  LABVIRT_RETURN_IF_ERROR(c.Int("line_timeout_s", &s.line_timeout_s, false));
  return c.CheckNoUnknown();
}

Status ValidateCli(const providers::DeviceKind& k) {
  const providers::CliSpec& s = k.cli;
  if (s.prompt.empty()) {
    if (k.day0.method == "console") {
      return Bad("cli.prompt", "is required: day0.method console pastes over the CLI");
    }
    return Status::Ok();
  }
  LABVIRT_RETURN_IF_ERROR(ValidatePattern("cli.prompt", s.prompt, true));
  LABVIRT_RETURN_IF_ERROR(CheckOptional("cli.login_prompt", s.login_prompt));
  LABVIRT_RETURN_IF_ERROR(CheckOptional("cli.password_prompt", s.password_prompt));
  LABVIRT_RETURN_IF_ERROR(CheckOptional("cli.more_prompt", s.more_prompt));
  if (!s.login_prompt.empty() && s.password_prompt.empty()) {
    return Bad("cli.password_prompt", "is required with a login_prompt");
  }
  if (s.answers.size() > 16) return Bad("cli.answers", "has more than 16 answers");
  for (size_t i = 0; i < s.answers.size(); ++i) {
    std::string f = "cli.answers[" + std::to_string(i) + "]";
    LABVIRT_RETURN_IF_ERROR(ValidatePattern(f + ".expect", s.answers[i].expect, true));
    LABVIRT_RETURN_IF_ERROR(CheckCommand(f + ".send", s.answers[i].send, true));
  }
  LABVIRT_RETURN_IF_ERROR(CheckCommands("cli.setup", s.setup));
  LABVIRT_RETURN_IF_ERROR(CheckCommands("cli.config_enter", s.config_enter));
  LABVIRT_RETURN_IF_ERROR(CheckCommands("cli.config_exit", s.config_exit));
  LABVIRT_RETURN_IF_ERROR(CheckCommands("cli.config_save", s.config_save));
  LABVIRT_RETURN_IF_ERROR(CheckPatterns("cli.errors", s.errors));
  LABVIRT_RETURN_IF_ERROR(CheckPatterns("cli.strip", s.strip));
  LABVIRT_RETURN_IF_ERROR(CheckCommand("cli.comment", s.comment, true));
  LABVIRT_RETURN_IF_ERROR(CheckCommand("cli.show_config", s.show_config, true));
  LABVIRT_RETURN_IF_ERROR(CheckOptional("cli.config_begin", s.config_begin));
  LABVIRT_RETURN_IF_ERROR(CheckOptional("cli.config_end", s.config_end));
  if (k.day0.method == "console" && s.config_enter.empty()) {
    return Bad("cli.config_enter", "is required: day0.method console pastes in config mode");
  }
  if (s.line_timeout_s < 1 || s.line_timeout_s > 600) {
    return Bad("cli.line_timeout_s", std::to_string(s.line_timeout_s) + " is out of range 1..600");
  }
  return Status::Ok();
}

}  // namespace labvirt::engine
