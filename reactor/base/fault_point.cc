#include "reactor/base/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace labvirt {

const std::vector<std::string>& ArmedFaultPoints() {
  static const std::vector<std::string> armed = [] {
    std::vector<std::string> out;
    const char* env = std::getenv("LABVIRT_FAULT_KILL_AT");
    std::string_view rest = env != nullptr ? env : "";
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view one = rest.substr(0, comma);
      if (!one.empty()) out.emplace_back(one);
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
    return out;
  }();
  return armed;
}

void FaultPoint(std::string_view name) {
  const auto& armed = ArmedFaultPoints();
  if (armed.empty()) return;
  if (std::find(armed.begin(), armed.end(), name) == armed.end()) return;
  ::kill(::getpid(), SIGKILL);
}

}  // namespace labvirt
