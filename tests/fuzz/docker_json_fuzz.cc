// Fuzz target: the Docker Engine API documents the docker provider reads from dockerd — a create
// answer (ParseCreatedId), the container list (ParseContainerList), an inspect document
// (ParseInspect) and a /events line (ParseEvent, both while labvirt stops the container and not);
// and an inspect's FinishedAt time as the logs API's "since" (UnixInstantAfter), which must be
// "" or "SECONDS.NANOSECONDS".
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "providers/docker/docker_json.h"
#include "reactor/base/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::providers::docker;
  std::string_view json(reinterpret_cast<const char*>(data), size);
  (void)ParseCreatedId(json);
  (void)ParseContainerList(json);
  auto inspected = ParseInspect(json);
  for (std::string_view time :
       {json, std::string_view(inspected.ok() ? inspected->finished_at : "")}) {
    std::string since = UnixInstantAfter(time);
    // Digits, one dot, nine digits after it: nothing else may reach the logs API's query.
    if (!since.empty() && (since.size() < 11 || since[since.size() - 10] != '.' ||
                           since.find_first_not_of("0123456789.") != std::string::npos)) {
      std::abort();
    }
  }
  (void)ParseEvent(json, false);
  (void)ParseEvent(json, true);
  return 0;
}
