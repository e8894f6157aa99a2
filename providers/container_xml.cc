// Container domain XML (container_xml.h), and BuildContainerDomain / RenderContainerNicXml
// (domain_xml_internal.h): what BuildDomain does for a container kind.
#include "providers/container_xml.h"

#include "providers/domain_xml.h"
#include "providers/domain_xml_internal.h"
#include "providers/node_naming.h"
#include "providers/xml_read.h"

namespace labvirt::providers {
namespace {

void RenderNic(const ContainerNic& n, Xml& x) {
  x.Pad(2).Raw("<interface type='ethernet'>\n");
  x.Pad(3).Raw("<mac").Attr("address", n.mac).Raw("/>\n");
  x.Pad(3).Raw("<target").Attr("dev", n.host).Raw("/>\n");
  x.Pad(3).Raw("<guest").Attr("dev", n.guest).Raw("/>\n");
  if (n.mtu) x.Pad(3).Raw("<mtu").Attr("size", std::to_string(n.mtu)).Raw("/>\n");
  x.Pad(2).Raw("</interface>\n");
}

// Data NIC i's name inside the container.
std::string GuestName(const DeviceKind& k, int index) {
  return k.container.interface_prefix + std::to_string(index + k.container.interface_start);
}

ContainerNic NicOf(const DomainSpec& s, const NicMetadata& nic) {
  // The management NIC is eth0 inside every container, whatever the vendor calls it (SR Linux's
  // mgmt0, cEOS's Management0), as containerlab and Docker's own first network have it.
  std::string guest = nic.role == NicRole::kManagement ? std::string(kContainerManagementInterface)
                                                       : GuestName(s.kind, nic.index);
  return {nic.tap, guest, nic.mac, s.mtu};
}

Result<ContainerNic> ReadNic(const xmlNode* iface) {
  ContainerNic n;
  const xmlNode* mac = xml::Child(iface, "mac");
  const xmlNode* target = xml::Child(iface, "target");
  const xmlNode* guest = xml::Child(iface, "guest");
  const xmlNode* mtu = xml::Child(iface, "mtu");
  if (mac) n.mac = xml::Prop(mac, "address");
  if (target) n.host = xml::Prop(target, "dev");
  if (guest) n.guest = xml::Prop(guest, "dev");
  if (mtu) n.mtu = std::atoi(xml::Prop(mtu, "size").c_str());
  if (n.host.empty() || n.guest.empty()) {
    return InvalidArgument("container interface: needs <target dev> and <guest dev>");
  }
  if (n.host.size() > kMaxTapNameLength || n.guest.size() > kMaxTapNameLength) {
    return InvalidArgument("container interface: '" + n.host + "'/'" + n.guest +
                           "' is longer than 15 characters");
  }
  return n;
}

// The element as text (the metadata, namespace declared on it by RenderNodeMetadata).
std::string Dump(xmlDoc* doc, const xmlNode* n) {
  xmlBuffer* buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, const_cast<xmlNode*>(n), 0, 0);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buf)),
                  static_cast<size_t>(xmlBufferLength(buf)));
  xmlBufferFree(buf);
  return out;
}

void ReadOs(const xmlNode* os, ContainerDefinition* d) {
  for (const xmlNode* c = os ? os->children : nullptr; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string_view name = xml::Name(c);
    if (name == "init" || name == "initarg") d->cmd.push_back(xml::Content(c));
    if (name == "initenv") d->env[xml::Prop(c, "name")] = xml::Content(c);
  }
}

void ReadFeatures(const xmlNode* features, ContainerDefinition* d) {
  const xmlNode* caps = features ? xml::Child(features, "capabilities") : nullptr;
  if (!caps) return;
  d->privileged = xml::Prop(caps, "policy") == "allow";
  for (const xmlNode* c = caps->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || xml::Prop(c, "state") != "on") continue;
    std::string cap(xml::Name(c));
    for (char& ch : cap) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    d->capabilities.push_back(cap);
  }
}

// <lvc:runtime>: the stop signal and sysctls (RenderRuntime).
void ReadRuntime(const xmlNode* runtime, ContainerDefinition* d) {
  for (const xmlNode* c = runtime ? runtime->children : nullptr; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (xml::Name(c) == "stop") d->stop_signal = xml::Prop(c, "signal");
    if (xml::Name(c) == "sysctl") d->sysctls[xml::Prop(c, "name")] = xml::Content(c);
  }
}

void RenderRuntime(const ContainerDefinition& d, Xml& x) {
  if (d.stop_signal.empty() && d.sysctls.empty()) return;
  x.Pad(2).Raw("<lvc:runtime").Attr("xmlns:lvc", kContainerNamespace).Raw(">\n");
  if (!d.stop_signal.empty()) x.Pad(3).Raw("<lvc:stop").Attr("signal", d.stop_signal).Raw("/>\n");
  for (const auto& [name, value] : d.sysctls) {
    x.Pad(3).Raw("<lvc:sysctl").Attr("name", name).Raw(">").Text(value).Raw("</lvc:sysctl>\n");
  }
  x.Pad(2).Raw("</lvc:runtime>\n");
}

}  // namespace

bool IsContainerDomainXml(const std::string& text) {
  xml::Doc doc = xml::Read(text, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  return root && xml::Name(root) == "domain" && xml::Prop(root, "type") == "lxc";
}

Result<ContainerDefinition> ParseContainerDomain(const std::string& text) {
  xml::Doc doc = xml::Read(text, "domain.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || xml::Name(root) != "domain") return InvalidArgument("not a domain XML");
  if (xml::Prop(root, "type") != "lxc") return InvalidArgument("not a container domain");
  ContainerDefinition d;
  if (const xmlNode* n = xml::Child(root, "name")) d.name = xml::Content(n);
  if (const xmlNode* n = xml::Child(root, "memory"))
    d.memory_mb = std::atoi(xml::Content(n).c_str());
  if (const xmlNode* n = xml::Child(root, "vcpu")) d.vcpus = std::atoi(xml::Content(n).c_str());
  ReadOs(xml::Child(root, "os"), &d);
  ReadFeatures(xml::Child(root, "features"), &d);
  if (const xmlNode* md = xml::Child(root, "metadata")) {
    const xmlNode* node = xml::Child(md, "node", kMetadataNamespace);
    if (node) d.metadata = Dump(doc.get(), node);
    if (const xmlNode* console = xml::Child(md, "console", kContainerNamespace)) {
      for (const xmlNode* c = console->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xml::Name(c) == "arg") {
          d.console_exec.push_back(xml::Content(c));
        }
      }
    }
    ReadRuntime(xml::Child(md, "runtime", kContainerNamespace), &d);
  }
  const xmlNode* devices = xml::Child(root, "devices");
  for (const xmlNode* c = devices ? devices->children : nullptr; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (xml::Name(c) == "interface") {
      auto nic = ReadNic(c);
      if (!nic.ok()) return nic.status();
      d.nics.push_back(*nic);
    } else if (xml::Name(c) == "filesystem") {
      const xmlNode* source = xml::Child(c, "source");
      const xmlNode* target = xml::Child(c, "target");
      BindMount b{source ? xml::Prop(source, "dir") : "", target ? xml::Prop(target, "dir") : "",
                  xml::Child(c, "readonly") != nullptr};
      if (b.source.empty() || b.target.empty()) {
        return InvalidArgument("container filesystem: needs <source dir> and <target dir>");
      }
      d.binds.push_back(std::move(b));
    }
  }
  if (d.name.empty()) return InvalidArgument("container domain: no <name>");
  // The image reference is labvirt's metadata (libvirt's schema has no element for one).
  if (auto md = ParseNodeMetadata(text); md.ok()) d.image = md->image;
  if (d.image.empty()) return InvalidArgument("container domain " + d.name + ": no image");
  return d;
}

Result<ContainerNic> ParseContainerNic(const std::string& interface_xml) {
  xml::Doc doc = xml::Read(interface_xml, "interface.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (!root || xml::Name(root) != "interface") return InvalidArgument("not an <interface>");
  return ReadNic(root);
}

std::string RenderContainerDomain(const ContainerDefinition& d, const std::string& live_pty) {
  Xml x;
  x.Raw("<domain type='lxc'>\n");
  x.Leaf(1, "name", d.name);
  if (!d.metadata.empty() || !d.console_exec.empty() || !d.stop_signal.empty() ||
      !d.sysctls.empty()) {
    x.Pad(1).Raw("<metadata>\n");
    if (!d.metadata.empty()) x.Raw(d.metadata).Raw("\n");
    if (!d.console_exec.empty()) {
      x.Pad(2).Raw("<lvc:console").Attr("xmlns:lvc", kContainerNamespace).Raw(">\n");
      for (const auto& a : d.console_exec) x.Leaf(3, "lvc:arg", a);
      x.Pad(2).Raw("</lvc:console>\n");
    }
    RenderRuntime(d, x);
    x.Pad(1).Raw("</metadata>\n");
  }
  x.Pad(1).Raw("<memory unit='MiB'>").Raw(std::to_string(d.memory_mb)).Raw("</memory>\n");
  x.Pad(1).Raw("<vcpu>").Raw(std::to_string(d.vcpus)).Raw("</vcpu>\n");
  x.Pad(1).Raw("<os>\n").Leaf(2, "type", "exe");
  // libvirt's <init> is an absolute path; a command found through PATH ("sudo") is all
  // <initarg>s. Read back, both are the argv in order.
  bool init = !d.cmd.empty() && !d.cmd[0].empty() && d.cmd[0][0] == '/';
  for (size_t i = 0; i < d.cmd.size(); ++i) {
    x.Leaf(2, i == 0 && init ? "init" : "initarg", d.cmd[i]);
  }
  for (const auto& [name, value] : d.env) {
    x.Pad(2).Raw("<initenv").Attr("name", name).Raw(">").Text(value).Raw("</initenv>\n");
  }
  x.Pad(1).Raw("</os>\n");
  // libvirt LXC's spelling: policy 'allow' keeps every capability (Docker's privileged).
  x.Pad(1).Raw("<features>\n").Pad(2).Raw("<capabilities");
  x.Attr("policy", d.privileged ? "allow" : "default").Raw(">\n");
  for (const auto& cap : d.capabilities) {
    std::string lower = cap;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    x.Pad(3).Raw("<").Raw(XmlEscape(lower)).Raw(" state='on'/>\n");
  }
  x.Pad(2).Raw("</capabilities>\n").Pad(1).Raw("</features>\n");
  x.Pad(1).Raw("<devices>\n");
  for (const auto& b : d.binds) {
    x.Pad(2).Raw("<filesystem type='mount'>\n");
    x.Pad(3).Raw("<source").Attr("dir", b.source).Raw("/>\n");
    x.Pad(3).Raw("<target").Attr("dir", b.target).Raw("/>\n");
    if (b.read_only) x.Pad(3).Raw("<readonly/>\n");
    x.Pad(2).Raw("</filesystem>\n");
  }
  for (const auto& n : d.nics) RenderNic(n, x);
  x.Pad(2).Raw("<serial type='pty'>\n");
  if (!live_pty.empty()) x.Pad(3).Raw("<source").Attr("path", live_pty).Raw("/>\n");
  x.Pad(2).Raw("</serial>\n");
  x.Pad(1).Raw("</devices>\n");
  x.Raw("</domain>\n");
  return x.Take();
}

Result<BuiltDomain> BuildContainerDomain(const DomainSpec& s) {
  LABVIRT_RETURN_IF_ERROR(ValidateName("instance", s.instance));
  LABVIRT_RETURN_IF_ERROR(ValidateName("lab name", s.lab));
  LABVIRT_RETURN_IF_ERROR(ValidateName("node name", s.node));
  if (s.image.empty()) return InvalidArgument("image: a container node needs an image reference");
  if (s.mtu != 0 && (s.mtu < 68 || s.mtu > 65535)) {
    return InvalidArgument("mtu: " + std::to_string(s.mtu) + " is out of range 68..65535");
  }
  auto nics = PlanNics(s);
  if (!nics.ok()) return nics.status();
  BuiltDomain out;
  out.name = DomainName(s.lab, s.node, s.tag);
  out.metadata = MetadataFor(s, *nics);
  out.metadata.cpu.reset();  // a container has no CPU model
  const DeviceKind& k = s.kind;
  ContainerDefinition d;
  d.name = out.name;
  d.image = s.image;
  d.cmd = k.container.cmd;
  d.env = k.container.env;
  d.memory_mb = k.memory_mb;
  d.vcpus = k.vcpus;
  d.privileged = k.container.privileged;
  d.capabilities = k.container.capabilities;
  if (k.container.console == "exec") d.console_exec = k.container.console_cmd;
  d.stop_signal = k.container.stop_signal;
  d.sysctls = k.container.sysctls;
  d.binds = s.binds;
  d.metadata = RenderNodeMetadata(out.metadata);
  std::string names;
  for (const NicMetadata& nic : *nics) {
    d.nics.push_back(NicOf(s, nic));
    names += (names.empty() ? "" : " ") + d.nics.back().guest;
  }
  if (!k.container.interfaces_env.empty()) d.env[k.container.interfaces_env] = names;
  out.xml = RenderContainerDomain(d);
  return out;
}

std::string RenderContainerNicXml(const DomainSpec& s, const NicMetadata& nic) {
  Xml x;
  RenderNic(NicOf(s, nic), x);
  return x.Take();
}

}  // namespace labvirt::providers
