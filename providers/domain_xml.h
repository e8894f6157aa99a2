// Domain XML: the libvirt domain definition of one lab node, and labvirt's metadata inside it.
//
// BuildDomain turns a DomainSpec (resolved device kind + node identity + paths) into the XML that
// labvirt defines, with the NIC plan (tap names, MACs) the engine needs to plug the NICs into
// OVS. ParseNodeMetadata reads labvirt's <metadata> back from a live or persistent domain XML so
// the engine can rebuild its state from libvirt. Pure functions, no I/O, any thread.
//
// Device order, which fixes the guest's NIC numbering: management NIC (if the kind has one),
// reserved dummy NICs, data NICs 0..nics-1. Every NIC is <interface type='ethernet'> with a
// <target dev='TAP'/> and no `managed` attribute: libvirt 9.0 then creates the tap itself (with
// managed='no' it would expect an existing tap). labvirt adds the tap to OVS after start.
#ifndef LABVIRT_PROVIDERS_DOMAIN_XML_H_
#define LABVIRT_PROVIDERS_DOMAIN_XML_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "providers/bind_mount.h"
#include "providers/cpu_policy.h"
#include "providers/device_kind.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/status.h"

namespace labvirt::providers {

// labvirt's metadata element: <labvirt:node xmlns:labvirt="https://labvirt.dev/xmlns/node/1">.
// For virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT) pass RenderNodeMetadata(…) with key
// kMetadataPrefix and uri kMetadataNamespace.
inline constexpr std::string_view kMetadataNamespace = "https://labvirt.dev/xmlns/node/1";
inline constexpr std::string_view kMetadataPrefix = "labvirt";

enum class NicRole { kData, kManagement, kReserved };
std::string_view NicRoleName(NicRole role);  // "data" | "management" | "reserved"

struct NicMetadata {
  NicRole role = NicRole::kData;
  int index = 0;           // data: 0-based data NIC index; reserved: 0-based; management: 0
  std::string interface;   // vendor name (data and management NICs), e.g. "GigabitEthernet0/1"
  std::string tap;         // host tap name (empty for a management NIC on a libvirt network)
  std::string mac;         // "52:54:00:…", lower case
  std::string link;        // link id this NIC is wired to; empty when unlinked
  bool link_down = false;  // the link's carrier is down (link.set_state), kept across restarts
  // The link's impairment of the frames this NIC receives (netem on its tap's egress), in
  // engine/netem/impairment.h's text form; empty: none. Opaque here.
  std::string impairment{};
};

// A host port forwarded to the node's management address (lab.deploy mgmt.forwards).
struct MgmtForward {
  std::string protocol = "tcp";  // "tcp" | "udp"
  int host_port = 0;
  int port = 0;  // on the node
};

// The node's place on its lab's management segment (engine/lab/mgmt_network.h); kept in the
// domain so that a labvirtd restart rebuilds the segment, its leases and its rules from the
// domains alone (<labvirt:mgmt ipv4='10.250.3.10/24' gateway4='10.250.3.1' …/>).
struct MgmtMetadata {
  std::string ipv4;          // the node's address with the segment's length; empty: not on one
  std::string gateway_ipv4;  // the host's address on the segment
  std::string ipv6;          // likewise for IPv6; empty: the segment has no IPv6
  std::string gateway_ipv6;
  bool nat = false;  // the lab's nodes reach the outside through the host (masquerade)
  std::vector<MgmtForward> forwards;
  bool operator==(const MgmtMetadata&) const = default;
};
bool operator==(const MgmtForward& a, const MgmtForward& b);

// Where the console log of the node's current boot begins (<labvirt:boot domain-id='7'
// log-inode='1234' log-offset='5678'/>): recorded when labvirt starts the VM (paused, so its guest
// has printed nothing yet), so that a labvirtd restarted mid-boot can read what this boot
// printed meanwhile, and only that (engine/console/boot_log.h). `domain_id` is libvirt's id of
// the running domain, which changes at every start: a record whose id is not the running
// domain's belongs to another start.
struct BootMark {
  std::string domain_id;   // "" when none was recorded
  uint64_t log_inode = 0;  // 0: the log did not exist yet
  int64_t log_offset = 0;
  bool operator==(const BootMark&) const = default;
};

struct NodeMetadata {
  int version = 1;
  std::string lab;
  std::string node;
  std::string kind;           // as the user or controller named it (may be an alias)
  std::string tag;            // node tag (providers/node_naming.h)
  std::string image;          // base image as given
  std::string desired_state;  // "running" | "stopped"
  std::string readiness;      // e.g. "pending", "ready", "failed"
  std::string readiness_detail;
  std::string overrides_json;  // the node's overrides as the engine stored them (opaque here)
  // The CPU rung the domain is defined with and why (providers/cpu_policy.h); unset in metadata
  // written before the CPU ladder existed.
  std::optional<CpuChoice> cpu;
  std::vector<NicMetadata> nics;
  // The labvirt instance that owns the node (docs/instances.md); kDefaultInstance when the
  // metadata has no <instance> (written before labvirt had instances).
  std::string instance = kDefaultInstance;
  // The node's day-0 config (<labvirt:startup-config method='fat' bytes='N'/>): its size, 0 when
  // the node has none. The text and medium live under STATE/day0/ (providers/state_paths.h).
  std::string config_method;
  int64_t config_bytes = 0;
  // A console-pasted config was typed and accepted (applied='yes'): not typed again at the next
  // boot (the device saved it); a wipe clears it.
  bool config_applied = false;
  // Save the running config before a graceful stop or a destroy (<labvirt:save-on-stop/>).
  bool save_on_stop = false;
  MgmtMetadata mgmt{};
  // A container node's host mounts, sources resolved under the bind root
  // (<labvirt:bind source='/abs' target='/dst' readonly='yes'/>), so a redefinition keeps them.
  std::vector<BindMount> binds{};
  BootMark boot{};
};

// A link on a data interface, named as the user names it (vendor interface name).
struct NicLink {
  std::string interface;
  std::string link;
};

struct DomainSpec {
  std::string instance = kDefaultInstance;  // the labvirt instance defining it (metadata)
  std::string lab;
  std::string node;
  std::string kind_name;  // as requested; stored in metadata
  DeviceKind kind;        // resolved, overrides applied (engine::ApplyOverrides)
  std::string tag;        // AllocateNodeTag(lab, node, tags of other nodes)
  // "kvm" when /dev/kvm is usable, "qemu" (TCG) otherwise. Under "qemu", CPU mode
  // host-passthrough becomes mode='maximum' (libvirt refuses host-passthrough without KVM).
  std::string domain_type = "kvm";
  // The <cpu> to render; unset: the first rung of the kind's own CpuSpec (providers/cpu_policy.h).
  std::optional<CpuChoice> cpu;
  // The defined domain's UUID when redefining it (libvirt refuses a same-named definition with
  // another UUID); empty for a new domain (libvirt picks one).
  std::string uuid;
  // The QEMU binary (<emulator>); empty: libvirt's default. Tests point it at a wrapper.
  std::string emulator;
  std::string image;           // base image as given (metadata only)
  std::string overlay_path;    // absolute path of the node's qcow2 overlay
  std::string state_dir;       // absolute; console logs go to STATE_DIR/logs/LAB/NODE.console.log
  int nics = -1;               // data NIC count; -1: kind.default_nics (grown to cover links)
  std::vector<NicLink> links;  // at most one link per interface
  // MACs already on the host (lower case); allocated MACs avoid them.
  std::set<std::string> macs_in_use;
  // MACs to keep, by NIC key "m", "rN" or "N" (from the node's previous metadata).
  std::map<std::string, std::string> fixed_macs;
  // Link state to keep in a redefinition's metadata, by data NIC key "N": carrier down and the
  // impairment it receives (NicMetadata's link_down and impairment), so that a domain redefined
  // while its link is shaped (a CPU fallback, a NIC hot-plug) still says so after a restart.
  std::map<std::string, std::pair<bool, std::string>> nic_link_state;
  // One port per serial of type "tcp" (telnet server on 127.0.0.1), in serial order.
  std::vector<int> tcp_serial_ports;
  // Empty: the management NIC is a tap like the others. Else: it joins this libvirt network.
  std::string management_network;
  std::string ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  std::string ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";  // template for stateful UEFI
  int mtu = 0;  // NIC MTU in the XML (kept across restarts); 0 = libvirt's default
  std::string desired_state = "running";
  std::string readiness = "pending";
  std::string readiness_detail;
  std::string overrides_json;
  // The node's day-0 config medium (kind.day0 says how it is attached) and the config's size;
  // empty: the node has no startup config.
  std::string config_medium;
  int64_t config_bytes = 0;
  bool config_applied = false;     // see NodeMetadata::config_applied
  bool save_on_stop = false;       // see NodeMetadata::save_on_stop
  MgmtMetadata mgmt{};             // see NodeMetadata::mgmt
  std::vector<BindMount> binds{};  // see NodeMetadata::binds; a container kind's only
};

struct BuiltDomain {
  std::string name;  // DomainName(lab, node, tag)
  std::string xml;
  NodeMetadata metadata;  // what the XML's <metadata> holds, NICs in device order
};

// Checks `spec` and builds the domain. InvalidArgument naming the field for: invalid lab/node
// name, bad tag, domain_type not kvm|qemu, relative or control-character paths, NIC count out of
// range, a link on an unknown or out-of-range interface, two links on one interface ("duplicate
// NIC"), missing TCP serial ports. kResourceExhausted if no free MAC is found.
Result<BuiltDomain> BuildDomain(const DomainSpec& spec);
// BuildDomain(spec).xml.
Result<std::string> BuildDomainXml(const DomainSpec& spec);

// The <interface> element of one NIC of a domain built from `spec` (for live hot-plug, and for
// detaching it: libvirt matches an interface by its MAC).
std::string RenderNicXml(const DomainSpec& spec, const NicMetadata& nic);

// The <labvirt:node> element for `md` (namespace declared on it).
std::string RenderNodeMetadata(const NodeMetadata& md);

// Reads labvirt's metadata from a domain XML (from virDomainGetXMLDesc). NotFound when the domain
// has no labvirt metadata (a foreign domain); InvalidArgument when the XML or the metadata is
// malformed (message says what). Never fetches external entities.
Result<NodeMetadata> ParseNodeMetadata(const std::string& domain_xml);

// The <uuid> of a domain XML ("" when it has none or is not a domain).
std::string DomainUuid(const std::string& domain_xml);

// Whether the domain XML has a <disk> whose source file is `path` (a day-0 medium attached).
bool HasDiskSource(const std::string& domain_xml, const std::string& path);

// The host PTY of the first <serial type='pty'> of a live domain XML ("" when it has none, or the
// XML is not a domain).
std::string LivePtyPath(const std::string& live_domain_xml);

// The id='N' of a live domain XML: libvirt's number for this run of the domain ("" when it has
// none: an inactive definition, or not a domain).
std::string LiveDomainId(const std::string& live_domain_xml);

// Escapes text for XML content and attribute values (& < > " '). Bytes XML 1.0 forbids (control
// characters other than tab, LF, CR) become U+FFFD; callers validate inputs first.
std::string XmlEscape(std::string_view text);

}  // namespace labvirt::providers

#endif  // LABVIRT_PROVIDERS_DOMAIN_XML_H_
