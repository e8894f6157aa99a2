// A container node in libvirt's domain XML: labvirt describes a container kind's node in the same
// document as a VM (so the engine builds, stores and reads back every node alike), written as
// libvirt's own LXC driver describes a container — <domain type='lxc'>, <os><type>exe</type>
// with <init>/<initarg>/<initenv>, <features><capabilities policy=…>, <interface> with
// <guest dev='eth1'/> — with the image reference in labvirt's metadata (<labvirt:image>). The
// docker provider (providers/docker/) reads it back with ParseContainerDomain and turns it into a
// Docker create request. BuildDomain (domain_xml.h) builds it for a container kind.
//
// Pure functions, no I/O, any thread.
#ifndef LABVIRT_PROVIDERS_CONTAINER_XML_H_
#define LABVIRT_PROVIDERS_CONTAINER_XML_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "providers/bind_mount.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// The management NIC's name inside a container (its vendor name is the kind's
// management_interface).
inline constexpr std::string_view kContainerManagementInterface = "eth0";

struct ContainerNic {
  std::string host;   // host end of the veth pair (the node's "tap" name)
  std::string guest;  // its name inside the container, e.g. "eth1"
  std::string mac;    // the guest end's MAC
  int mtu = 0;        // 0 = the kernel's default
};

struct ContainerDefinition {
  std::string name;   // the domain name, used as the container's name
  std::string image;  // the image reference
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  int memory_mb = 0;
  int vcpus = 0;
  bool privileged = false;
  std::vector<std::string> capabilities;
  std::string hostname;  // the node's name (not in the XML: the provider takes it from metadata)
  std::vector<ContainerNic> nics;
  std::string metadata;  // labvirt's <labvirt:node> element as text
  // The exec console's argv (ContainerSpec::console_cmd); empty: the container's own TTY. Kept
  // in a metadata element of its own (<lvc:console>), apart from the node metadata that
  // SetMetadata replaces.
  std::vector<std::string> console_exec;
  // Host mounts (<filesystem type='mount'> in the devices, as libvirt LXC writes them); sources
  // are absolute host paths already confined to the bind root (bind_mount.h).
  std::vector<BindMount> binds;
  // ContainerSpec::stop_signal and sysctls, kept in a metadata element of their own
  // (<lvc:runtime>) like the exec console.
  std::string stop_signal;
  std::map<std::string, std::string> sysctls;
};

// The namespace of the container-only metadata (the exec console, the stop signal, sysctls).
inline constexpr std::string_view kContainerNamespace = "https://labvirt.dev/xmlns/container/1";

// Reads a container domain XML. InvalidArgument naming what is wrong for XML that is not a
// container domain of labvirt's making (not well-formed, not type='lxc', no image in its
// metadata, a NIC without a host or guest name).
Result<ContainerDefinition> ParseContainerDomain(const std::string& xml);

// The NIC of an <interface> element (as RenderNicXml writes it for a container kind).
Result<ContainerNic> ParseContainerNic(const std::string& interface_xml);

// True when `xml` is a container domain (its root is <domain type='lxc'>).
bool IsContainerDomainXml(const std::string& xml);

// The domain XML of `def`; with `live_pty`, its serial has <source path='PTY'/> (what
// LivePtyPath reads from a running node). The docker provider keeps a definition as this text and
// re-renders it when the metadata or the NICs change.
std::string RenderContainerDomain(const ContainerDefinition& def, const std::string& live_pty = "");

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_CONTAINER_XML_H_
