// The Docker Engine API's documents as the docker provider writes and reads them: the create
// request of a container definition, and the lifecycle events and container list it reads back.
// Pure functions, no I/O, any thread.
//
// labvirt's identity on a container is in its labels, as it is in a VM's domain metadata:
// labvirt.domain (the node's domain name), labvirt.instance, labvirt.lab, labvirt.node, and
// labvirt.definition (the whole definition XML at creation, so a labvirtd that lost its state
// directory still adopts the container).
#ifndef LABVIRT_PROVIDERS_DOCKER_DOCKER_JSON_H_
#define LABVIRT_PROVIDERS_DOCKER_DOCKER_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "providers/container_xml.h"
#include "providers/hypervisor.h"
#include "reactor/base/status.h"

namespace labvirt::providers::docker {

inline constexpr char kDomainLabel[] = "labvirt.domain";
inline constexpr char kDefinitionLabel[] = "labvirt.definition";

// Identity labels of a node's container.
struct ContainerLabels {
  std::string instance;
  std::string lab;
  std::string node;
};

// The body of POST /containers/create for `def`: a TTY with stdin open (the console), no Docker
// network (NetworkMode none: labvirt plugs veth pairs into the namespace itself), no restart
// policy (labvirt applies its own), memory and CPU limits, privileges and capabilities, the
// definition's binds (HostConfig.Binds "SRC:DST:ro|rw"), labels.
std::string CreateBody(const ContainerDefinition& def, const ContainerLabels& labels,
                       const std::string& definition_xml);

// The body of POST /containers/{id}/exec for an exec console running `cmd`: a TTY, stdin, stdout
// and stderr attached (the console relay reads it as it reads the container's own TTY).
std::string ExecCreateBody(const std::vector<std::string>& cmd);
// The body of POST /exec/{id}/start for that console: not detached, a TTY.
std::string ExecStartBody();
// The "Id" of a create answer ({"Id": "…"}); InvalidArgument when there is none.
Result<std::string> ParseCreatedId(std::string_view json);

// A container as GET /containers/json lists it.
struct ListedContainer {
  std::string id;
  std::string domain;      // labvirt.domain label
  std::string state;       // "created" | "running" | "paused" | "exited" | "dead" | …
  std::string definition;  // labvirt.definition label
};
// Parses the list. InvalidArgument when it is not the array Docker sends.
Result<std::vector<ListedContainer>> ParseContainerList(std::string_view json);

// What GET /containers/{name}/json says about its state.
struct InspectedState {
  bool running = false;
  bool paused = false;
  int pid = 0;
  int exit_code = 0;
  std::string error;   // Docker's State.Error ("" when none)
  std::string domain;  // labvirt.domain label ("" when the container is not labvirt's)
  // State.FinishedAt: when the container's previous run ended, as Docker wrote it (RFC 3339,
  // UTC); Docker's zero time "0001-01-01T00:00:00Z" when it never ran to an end.
  std::string finished_at;
};
Result<InspectedState> ParseInspect(std::string_view json);

// The first nanosecond after Docker time `rfc3339` ("2026-12-04T20:01:02.123456789Z", the
// fraction optional, UTC only, as dockerd writes times) as the logs API's "since" takes it,
// "SECONDS.NANOSECONDS"; "" for Docker's zero time (year 1) and for anything that does not parse.
std::string UnixInstantAfter(std::string_view rfc3339);

// A lifecycle event of /events, as a domain event. NotFound for events that mean nothing to the
// engine (exec_*, attach, resize, other types) or containers without labvirt.domain.
// `stopping`: labvirt itself asked for this container to stop (a "die" is then "destroyed" or
// "shutdown", not "crashed").
struct DockerEvent {
  DomainEventInfo info;
  std::string action;  // Docker's action word
};
Result<DockerEvent> ParseEvent(std::string_view json, bool stopping);

}  // namespace labvirt::providers::docker

#endif  // LABVIRT_PROVIDERS_DOCKER_DOCKER_JSON_H_
