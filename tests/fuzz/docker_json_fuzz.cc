// Fuzz target: the Docker Engine API documents the docker provider reads from dockerd — a create
// answer (ParseCreatedId), the container list (ParseContainerList), an inspect document
// (ParseInspect) and a /events line (ParseEvent, both while labvirt stops the container and not).
#include <cstdint>
#include <string_view>

#include "providers/docker/docker_json.h"
#include "reactor/base/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::providers::docker;
  std::string_view json(reinterpret_cast<const char*>(data), size);
  (void)ParseCreatedId(json);
  (void)ParseContainerList(json);
  (void)ParseInspect(json);
  (void)ParseEvent(json, false);
  (void)ParseEvent(json, true);
  return 0;
}
