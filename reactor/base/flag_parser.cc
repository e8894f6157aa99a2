#include "reactor/base/flag_parser.h"

#include <algorithm>

namespace labvirt {

const Flag* FlagParser::Find(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

FlagParse FlagParser::Parse(const std::vector<std::string>& args, Positionals positionals,
                            UnknownFlags unknown) const {
  FlagParse out;
  const bool keep_unknown = unknown == UnknownFlags::kKeep;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool dashes = arg.rfind("--", 0) == 0;
    if (!dashes && Find(arg) == nullptr) {
      if (positionals == Positionals::kRefuse) {
        out.error = FlagError{FlagError::Kind::kUnexpectedArgument, arg, "", Status::Ok()};
        return out;
      }
      if (positionals == Positionals::kStop) {
        out.rest.insert(out.rest.end(), args.begin() + static_cast<ptrdiff_t>(i), args.end());
        return out;
      }
      out.rest.push_back(arg);
      continue;
    }
    const size_t eq = dashes ? arg.find('=') : std::string::npos;
    const std::string name = arg.substr(0, eq);
    const Flag* flag = Find(name);
    if (flag == nullptr || (!flag->takes_value && eq != std::string::npos)) {
      if (keep_unknown) {
        out.rest.push_back(arg);
        continue;
      }
      out.error = FlagError{FlagError::Kind::kUnknownFlag, arg, name, Status::Ok()};
      return out;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (flag->takes_value && i + 1 < args.size()) {
      value = args[++i];
    } else if (flag->takes_value) {
      // Without its value the flag is not one this parser can take whole.
      if (keep_unknown) {
        out.rest.push_back(arg);
        continue;
      }
      out.error = FlagError{FlagError::Kind::kMissingValue, arg, name, Status::Ok()};
      return out;
    }
    if (Status st = flag->set(value); !st.ok()) {
      out.error = FlagError{FlagError::Kind::kBadValue, arg, name, std::move(st)};
      return out;
    }
  }
  return out;
}

std::string FlagParser::Help(size_t column) const {
  std::string out;
  for (const Flag& f : flags_) {
    if (f.help.empty()) continue;
    std::string head = f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    head.resize(std::max(column, head.size() + 1), ' ');
    out += "  " + head;
    for (char c : f.help) {
      out += c;
      if (c == '\n') out += std::string(2 + column, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace labvirt
