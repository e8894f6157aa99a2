#include "providers/domain_xml.h"

#include "providers/domain_xml_internal.h"
#include "providers/interface_naming.h"
#include "providers/node_naming.h"

namespace labvirt::providers {
namespace {

Status CheckPath(std::string_view field, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return InvalidArgument(std::string(field) + ": '" + path + "' is not an absolute path");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument(std::string(field) + ": path contains a control character");
    }
  }
  return Status::Ok();
}

bool IsHexTag(std::string_view tag) {
  if (tag.size() != 8) return false;
  for (char c : tag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckSpec(const DomainSpec& s) {
  LABVIRT_RETURN_IF_ERROR(ValidateName("instance", s.instance));
  LABVIRT_RETURN_IF_ERROR(ValidateName("lab name", s.lab));
  LABVIRT_RETURN_IF_ERROR(ValidateName("node name", s.node));
  if (!IsHexTag(s.tag))
    return InvalidArgument("tag: '" + s.tag + "' is not 8 lower-case hex digits");
  if (s.domain_type != "kvm" && s.domain_type != "qemu") {
    return InvalidArgument("domain_type: '" + s.domain_type + "' is not kvm or qemu");
  }
  LABVIRT_RETURN_IF_ERROR(CheckPath("overlay_path", s.overlay_path));
  LABVIRT_RETURN_IF_ERROR(CheckPath("state_dir", s.state_dir));
  if (!s.emulator.empty()) LABVIRT_RETURN_IF_ERROR(CheckPath("emulator", s.emulator));
  if (!s.config_medium.empty()) {
    LABVIRT_RETURN_IF_ERROR(CheckPath("config_medium", s.config_medium));
    if (s.kind.day0.method != "iso" && s.kind.day0.method != "fat") {
      return InvalidArgument("config_medium: kind " + s.kind.name + " takes no config medium");
    }
  }
  if (s.uuid.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos) {
    return InvalidArgument("uuid: '" + s.uuid + "' is not a UUID");
  }
  if (s.kind.firmware != Firmware::kBios) {
    LABVIRT_RETURN_IF_ERROR(CheckPath("ovmf_code", s.ovmf_code));
    if (s.kind.firmware == Firmware::kUefiStateful) {
      LABVIRT_RETURN_IF_ERROR(CheckPath("ovmf_vars", s.ovmf_vars));
    }
  }
  if (s.mtu != 0 && (s.mtu < 68 || s.mtu > 65535)) {
    return InvalidArgument("mtu: " + std::to_string(s.mtu) + " is out of range 68..65535");
  }
  size_t tcp = 0;
  for (const auto& serial : s.kind.serials) tcp += serial.type == "tcp";
  if (s.tcp_serial_ports.size() != tcp) {
    return InvalidArgument("tcp_serial_ports: kind " + s.kind.name + " has " + std::to_string(tcp) +
                           " TCP serials but " + std::to_string(s.tcp_serial_ports.size()) +
                           " ports were given");
  }
  for (int port : s.tcp_serial_ports) {
    if (port < 1 || port > 65535) {
      return InvalidArgument("tcp_serial_ports: " + std::to_string(port) + " is not a TCP port");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<NicMetadata>> PlanNics(const DomainSpec& s) {
  const DeviceKind& k = s.kind;
  int nics = s.nics < 0 ? k.default_nics : s.nics;
  if (nics > k.max_nics) {
    return InvalidArgument("nics: " + std::to_string(nics) + " is more than " + k.name +
                           "'s maximum of " + std::to_string(k.max_nics) + " data NICs");
  }
  std::map<int, const NicLink*> by_index;
  for (const NicLink& l : s.links) {
    auto index = InterfaceIndex(k, l.interface);
    if (!index.ok()) return InvalidArgument("link '" + l.link + "': " + index.status().message());
    auto [it, fresh] = by_index.emplace(*index, &l);
    if (!fresh) {
      return InvalidArgument("duplicate NIC: interface " + InterfaceName(k, *index) +
                             " is used by link '" + it->second->link + "' and link '" + l.link +
                             "'");
    }
    // Like the seed, a link on a NIC beyond the requested count grows the count to reach it.
    if (*index >= nics) nics = *index + 1;
  }
  std::vector<NicMetadata> out;
  if (k.management_nic) {
    NicMetadata m{
        NicRole::kManagement, 0, k.management_interface,
        // A container's management NIC is a veth like its others, whatever network
        // a VM's would join.
        s.management_network.empty() || IsContainerKind(k) ? ManagementTapName(s.tag) : "", "", ""};
    out.push_back(m);
  }
  for (int i = 0; i < k.reserved_nics; ++i) {
    out.push_back({NicRole::kReserved, i, "", ReservedTapName(s.tag, i), "", ""});
  }
  for (int i = 0; i < nics; ++i) {
    auto it = by_index.find(i);
    out.push_back({NicRole::kData, i, InterfaceName(k, i), DataTapName(s.tag, i), "",
                   it == by_index.end() ? "" : it->second->link});
  }
  std::set<std::string> in_use = s.macs_in_use;
  for (NicMetadata& n : out) {
    std::string key = n.role == NicRole::kManagement ? "m"
                      : n.role == NicRole::kReserved ? "r" + std::to_string(n.index)
                                                     : std::to_string(n.index);
    if (auto kept = s.nic_link_state.find(key); kept != s.nic_link_state.end()) {
      n.link_down = kept->second.first;
      n.impairment = kept->second.second;
    }
    if (auto fixed = s.fixed_macs.find(key); fixed != s.fixed_macs.end()) {
      n.mac = NormalizeMac(fixed->second);
      in_use.insert(n.mac);
      continue;
    }
    auto mac = AllocateMac(s.lab, s.node, key, &in_use);
    if (!mac.ok()) return mac.status();
    n.mac = *mac;
  }
  return out;
}

namespace {

void RenderCpu(const DomainSpec& s, Xml& x) {
  const DeviceKind& k = s.kind;
  CpuChoice c = s.cpu ? *s.cpu : FirstCpuChoice(k.cpu, "");
  std::string mode = c.mode;
  if (mode == "host-passthrough" && s.domain_type == "qemu") mode = "maximum";
  x.Pad(1).Raw("<cpu").Attr("mode", mode);
  if (mode == "host-passthrough" || mode == "maximum") x.Attr("migratable", "off");
  if (mode == "custom") x.Attr("match", "exact");
  if (c.check_none) x.Attr("check", "none");
  x.Raw(">\n");
  if (mode == "custom") {
    x.Pad(2).Raw("<model fallback='allow'>").Text(c.model).Raw("</model>\n");
  }
  if (k.cpu_sockets) {
    x.Pad(2).Raw("<topology").Attr("sockets", std::to_string(k.cpu_sockets)).Attr("dies", "1");
    x.Attr("cores", std::to_string(k.cpu_cores)).Attr("threads", std::to_string(k.cpu_threads));
    x.Raw("/>\n");
  }
  for (const auto& f : c.required_features) {
    x.Pad(2).Raw("<feature policy='require'").Attr("name", f).Raw("/>\n");
  }
  for (const auto& f : c.disabled_features) {
    x.Pad(2).Raw("<feature policy='disable'").Attr("name", f).Raw("/>\n");
  }
  x.Pad(1).Raw("</cpu>\n");
}

void RenderOs(const DomainSpec& s, Xml& x) {
  const DeviceKind& k = s.kind;
  x.Pad(1).Raw("<os>\n");
  x.Pad(2).Raw("<type arch='x86_64'").Attr("machine", k.machine).Raw(">hvm</type>\n");
  if (k.firmware != Firmware::kBios) {
    // Stateless: one read-only pflash and no NVRAM (XRv9k's Spirit breaks on an NVRAM pflash).
    x.Pad(2).Raw("<loader readonly='yes' type='pflash'");
    if (k.firmware == Firmware::kUefiStateless) x.Attr("stateless", "yes");
    x.Raw(">").Text(s.ovmf_code).Raw("</loader>\n");
    if (k.firmware == Firmware::kUefiStateful) {
      x.Pad(2).Raw("<nvram").Attr("template", s.ovmf_vars).Raw(">");
      x.Text(NvramPath(s.state_dir, s.lab, s.node)).Raw("</nvram>\n");
    }
  }
  x.Pad(2).Raw("<boot dev='hd'/>\n");
  // Said, not assumed: a boot menu waits for a key that nobody presses on a lab node.
  x.Pad(2).Raw("<bootmenu enable='no'/>\n");
  if (!k.smbios.empty()) x.Pad(2).Raw("<smbios mode='sysinfo'/>\n");
  x.Pad(1).Raw("</os>\n");
  if (!k.smbios.empty()) {
    x.Pad(1).Raw("<sysinfo type='smbios'>\n").Pad(2).Raw("<system>\n");
    for (const auto& [key, value] : k.smbios) {
      x.Pad(3).Raw("<entry").Attr("name", key).Raw(">").Text(value).Raw("</entry>\n");
    }
    x.Pad(2).Raw("</system>\n").Pad(1).Raw("</sysinfo>\n");
  }
  x.Pad(1).Raw("<features>\n").Pad(2).Raw("<acpi/>\n").Pad(2).Raw("<apic/>\n");
  // OVMF from the ovmf package is built without SMM_REQUIRE; SMM off matches the seed.
  if (k.firmware != Firmware::kBios) x.Pad(2).Raw("<smm state='off'/>\n");
  // A CPU ladder step (providers/cpu_policy.h) for hosts whose PMU MSRs QEMU cannot set.
  if (s.cpu && s.cpu->pmu_off) x.Pad(2).Raw("<pmu state='off'/>\n");
  x.Pad(1).Raw("</features>\n");
}

// The day-0 medium (providers/config_medium.h) as the second drive: a CD-ROM on IDE (i440fx) or
// SATA (q35), a disk on the kind's own bus (so the BIOS and the OS find it where they find the
// boot disk: drive 0x81 after 0x80), or a USB stick.
void RenderConfigMedium(const DomainSpec& s, Xml& x) {
  const Day0Spec& d = s.kind.day0;
  bool cdrom = d.method == "iso";
  bool q35 = s.kind.machine.find("q35") != std::string::npos;
  std::string bus = cdrom ? (q35 ? "sata" : "ide") : d.attach == "usb" ? "usb" : s.kind.disk_bus;
  static const std::map<std::string, std::string> kSecondDev = {
      {"virtio", "vdb"}, {"ide", "hdb"}, {"sata", "sdb"}, {"scsi", "sdb"}, {"usb", "sdc"}};
  std::string dev = cdrom && bus == "ide" ? "hdc" : kSecondDev.at(bus);
  x.Pad(2).Raw("<disk type='file'").Attr("device", cdrom ? "cdrom" : "disk").Raw(">\n");
  x.Pad(3).Raw("<driver name='qemu' type='raw'/>\n");
  x.Pad(3).Raw("<source").Attr("file", s.config_medium).Raw("/>\n");
  x.Pad(3).Raw("<target").Attr("dev", dev).Attr("bus", bus).Raw("/>\n");
  if (cdrom) x.Pad(3).Raw("<readonly/>\n");
  x.Pad(2).Raw("</disk>\n");
}

void RenderDisk(const DomainSpec& s, Xml& x) {
  const DeviceKind& k = s.kind;
  static const std::map<std::string, std::string> kTargetDev = {
      {"virtio", "vda"}, {"ide", "hda"}, {"sata", "sda"}, {"scsi", "sda"}};
  if (k.disk_bus == "sata") x.Pad(2).Raw("<controller type='sata' index='0'/>\n");
  if (k.disk_bus == "scsi")
    x.Pad(2).Raw("<controller type='scsi' index='0' model='virtio-scsi'/>\n");
  x.Pad(2).Raw("<disk type='file' device='disk'>\n");
  x.Pad(3).Raw("<driver name='qemu' type='qcow2'").Attr("cache", k.disk_cache);
  x.Attr("io", k.disk_io).Attr("discard", "unmap").Raw("/>\n");
  x.Pad(3).Raw("<source").Attr("file", s.overlay_path).Raw("/>\n");
  auto dev = kTargetDev.find(k.disk_bus);
  x.Pad(3).Raw("<target").Attr("dev", dev == kTargetDev.end() ? "vda" : dev->second);
  x.Attr("bus", k.disk_bus).Raw("/>\n");
  x.Pad(2).Raw("</disk>\n");
  if (!s.config_medium.empty()) RenderConfigMedium(s, x);
}

void RenderNics(const DomainSpec& s, const std::vector<NicMetadata>& nics, Xml& x) {
  for (const NicMetadata& n : nics) {
    bool on_network = n.role == NicRole::kManagement && !s.management_network.empty();
    x.Pad(2).Raw(on_network ? "<interface type='network'>\n" : "<interface type='ethernet'>\n");
    x.Pad(3).Raw("<mac").Attr("address", n.mac).Raw("/>\n");
    if (on_network) {
      x.Pad(3).Raw("<source").Attr("network", s.management_network).Raw("/>\n");
    } else {
      x.Pad(3).Raw("<target").Attr("dev", n.tap).Raw("/>\n");
    }
    x.Pad(3).Raw("<model").Attr("type", s.kind.nic_model).Raw("/>\n");
    // No option ROM (iPXE): nodes boot from disk, and the BIOS runs every NIC's ROM before it
    // boots. Two NICs' ROMs cost ~2.8 s of boot under KVM on a PVM host (docs/fixtures.md).
    x.Pad(3).Raw("<rom enabled='no'/>\n");
    if (s.mtu) x.Pad(3).Raw("<mtu").Attr("size", std::to_string(s.mtu)).Raw("/>\n");
    x.Pad(2).Raw("</interface>\n");
  }
}

void RenderSerials(const DomainSpec& s, Xml& x) {
  size_t tcp = 0;
  for (size_t i = 0; i < s.kind.serials.size(); ++i) {
    std::string port = std::to_string(i);
    if (s.kind.serials[i].type == "tcp") {
      x.Pad(2).Raw("<serial type='tcp'>\n");
      x.Pad(3).Raw("<source mode='bind' host='127.0.0.1'");
      x.Attr("service", std::to_string(s.tcp_serial_ports[tcp++])).Raw("/>\n");
      x.Pad(3).Raw("<protocol type='telnet'/>\n");
    } else {
      // virtlogd keeps (and rotates) every byte even while labvirt is down.
      std::string log = ConsoleLogPath(s.state_dir, s.lab, s.node, static_cast<int>(i));
      x.Pad(2).Raw("<serial type='pty'>\n");
      x.Pad(3).Raw("<log").Attr("file", log).Attr("append", "on").Raw("/>\n");
    }
    x.Pad(3).Raw("<target type='isa-serial'").Attr("port", port).Raw(">\n");
    x.Pad(4).Raw("<model name='isa-serial'/>\n").Pad(3).Raw("</target>\n");
    x.Pad(2).Raw("</serial>\n");
  }
  x.Pad(2).Raw("<console type='pty'>\n").Pad(3).Raw("<target type='serial' port='0'/>\n");
  x.Pad(2).Raw("</console>\n");
}

}  // namespace

std::string_view NicRoleName(NicRole role) {
  switch (role) {
    case NicRole::kData:
      return "data";
    case NicRole::kManagement:
      return "management";
    case NicRole::kReserved:
      return "reserved";
  }
  return "data";
}

namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 if the bytes there are not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t Utf8Length(std::string_view text, size_t i) {
  auto b = [&](size_t j) { return static_cast<unsigned char>(text[j]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t j = 1; j < n; ++j) {
    if ((b(i + j) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + j) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default: {
        size_t n = Utf8Length(text, i);
        bool forbidden =
            n == 0 || (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r');
        if (forbidden) {
          out += "\xef\xbf\xbd";
          n = 1;
        } else {
          out.append(text.substr(i, n));
        }
        i += n;
        continue;
      }
    }
    ++i;
  }
  return out;
}

NodeMetadata MetadataFor(const DomainSpec& s, const std::vector<NicMetadata>& nics) {
  return NodeMetadata{1,
                      s.lab,
                      s.node,
                      s.kind_name.empty() ? s.kind.name : s.kind_name,
                      s.tag,
                      s.image,
                      s.desired_state,
                      s.readiness,
                      s.readiness_detail,
                      s.overrides_json,
                      s.cpu ? *s.cpu : FirstCpuChoice(s.kind.cpu, ""),
                      nics,
                      s.instance,
                      s.config_bytes > 0 ? s.kind.day0.method : "",
                      s.config_bytes,
                      s.config_bytes > 0 && s.config_applied,
                      s.save_on_stop,
                      s.mgmt,
                      s.binds,
                      {}};
}

bool operator==(const MgmtForward& a, const MgmtForward& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port && a.port == b.port;
}

Result<BuiltDomain> BuildDomain(const DomainSpec& s) {
  if (IsContainerKind(s.kind)) return BuildContainerDomain(s);
  LABVIRT_RETURN_IF_ERROR(CheckSpec(s));
  auto nics = PlanNics(s);
  if (!nics.ok()) return nics.status();
  BuiltDomain out;
  out.name = DomainName(s.lab, s.node, s.tag);
  out.metadata = MetadataFor(s, *nics);
  const DeviceKind& k = s.kind;
  Xml x;
  x.Raw("<domain").Attr("type", s.domain_type).Raw(">\n");
  x.Leaf(1, "name", out.name);
  if (!s.uuid.empty()) x.Leaf(1, "uuid", s.uuid);
  x.Leaf(1, "title", s.lab + "/" + s.node + " (" + k.name + ")");
  x.Pad(1).Raw("<metadata>\n");
  x.Raw(RenderNodeMetadata(out.metadata)).Raw("\n");
  x.Pad(1).Raw("</metadata>\n");
  x.Pad(1).Raw("<memory unit='MiB'>").Raw(std::to_string(k.memory_mb)).Raw("</memory>\n");
  // QEMU marks guest RAM mergeable (MADV_MERGEABLE) unless told not to; a kind that opts out of
  // KSM gets -machine mem-merge=off through libvirt's nosharepages.
  if (!k.memory_sharing) x.Pad(1).Raw("<memoryBacking><nosharepages/></memoryBacking>\n");
  x.Pad(1).Raw("<vcpu placement='static'>").Raw(std::to_string(k.vcpus)).Raw("</vcpu>\n");
  RenderOs(s, x);
  RenderCpu(s, x);
  x.Pad(1).Raw("<clock offset='utc'>\n");
  x.Pad(2).Raw("<timer name='rtc' tickpolicy='catchup'/>\n");
  x.Pad(2).Raw("<timer name='pit' tickpolicy='delay'/>\n");
  x.Pad(2).Raw("<timer name='hpet' present='no'/>\n");
  x.Pad(1).Raw("</clock>\n");
  // A crash must reach labvirt as an event (it applies its own restart policy), a guest reboot
  // stays a reboot, and a guest power-off ends the domain so labvirt sees "stopped".
  x.Pad(1).Raw("<on_poweroff>destroy</on_poweroff>\n");
  x.Pad(1).Raw("<on_reboot>restart</on_reboot>\n");
  x.Pad(1).Raw("<on_crash>destroy</on_crash>\n");
  x.Pad(1).Raw("<devices>\n");
  if (!s.emulator.empty()) x.Leaf(2, "emulator", s.emulator);
  RenderDisk(s, x);
  RenderNics(s, *nics, x);
  RenderSerials(s, x);
  x.Pad(2).Raw("<memballoon model='none'/>\n");
  x.Pad(2).Raw("<rng model='virtio'>\n").Pad(3).Raw("<backend model='random'>/dev/urandom");
  x.Raw("</backend>\n").Pad(2).Raw("</rng>\n");
  x.Pad(1).Raw("</devices>\n");
  x.Raw("</domain>\n");
  out.xml = x.Take();
  return out;
}

std::string RenderNicXml(const DomainSpec& spec, const NicMetadata& nic) {
  if (IsContainerKind(spec.kind)) return RenderContainerNicXml(spec, nic);
  Xml x;
  RenderNics(spec, {nic}, x);
  return x.Take();
}

Result<std::string> BuildDomainXml(const DomainSpec& spec) {
  auto built = BuildDomain(spec);
  if (!built.ok()) return built.status();
  return std::move(built->xml);
}

}  // namespace labvirt::providers
