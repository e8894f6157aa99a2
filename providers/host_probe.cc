#include "providers/host_probe.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "providers/xml_read.h"
#include "reactor/base/json_writer.h"

namespace labvirt::providers {
namespace {

// "key\t: value" → value, for the first processor's block.
std::string CpuInfoField(std::string_view cpuinfo, std::string_view key) {
  size_t pos = 0;
  while (pos < cpuinfo.size()) {
    size_t end = cpuinfo.find('\n', pos);
    if (end == std::string_view::npos) end = cpuinfo.size();
    std::string_view line = cpuinfo.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) break;  // end of the first processor's block
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view k = line.substr(0, colon);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.remove_suffix(1);
    if (k != key) continue;
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return std::string(v);
  }
  return "";
}

bool HasFlag(const std::string& flags, std::string_view flag) {
  std::istringstream in(flags);
  std::string f;
  while (in >> f) {
    if (f == flag) return true;
  }
  return false;
}

}  // namespace

std::string HostInfo::Signature() const {
  return cpu_id + "/" + kernel + "/" + qemu_version + "/" + (kvm ? "kvm" : "tcg");
}

void ParseCpuInfo(std::string_view cpuinfo, HostInfo* info) {
  std::string vendor_id = CpuInfoField(cpuinfo, "vendor_id");
  info->vendor = vendor_id == "AuthenticAMD" ? "amd" : vendor_id == "GenuineIntel" ? "intel" : "";
  info->model_name = CpuInfoField(cpuinfo, "model name");
  info->nested = HasFlag(CpuInfoField(cpuinfo, "flags"), "hypervisor");
  info->cpu_id = vendor_id + "/" + CpuInfoField(cpuinfo, "cpu family") + "/" +
                 CpuInfoField(cpuinfo, "model") + "/" + CpuInfoField(cpuinfo, "stepping");
}

HostInfo ProbeLocalHost() {
  HostInfo info;
  info.kvm = ::access("/dev/kvm", R_OK | W_OK) == 0;
  for (const char* m : {"kvm_intel", "kvm_amd", "kvm_pvm"}) {
    if (::access((std::string("/sys/module/") + m).c_str(), F_OK) == 0) info.kvm_module = m;
  }
  std::ifstream in("/proc/cpuinfo");
  std::stringstream text;
  text << in.rdbuf();
  ParseCpuInfo(text.str(), &info);
  struct utsname u {};
  if (::uname(&u) == 0) info.kernel = u.release;
  return info;
}

Result<HostCpuCaps> ParseDomainCapabilities(const std::string& text) {
  xml::Doc doc = xml::Read(text, "domcaps.xml");
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr || xml::Name(root) != "domainCapabilities") {
    return InvalidArgument("not a libvirt <domainCapabilities> document");
  }
  HostCpuCaps caps;
  const xmlNode* cpu = xml::Child(root, "cpu");
  for (const xmlNode* m = cpu ? cpu->children : nullptr; m; m = m->next) {
    if (m->type != XML_ELEMENT_NODE || xml::Name(m) != "mode") continue;
    std::string name = xml::Prop(m, "name");
    bool supported = xml::Prop(m, "supported") == "yes";
    if (name == "host-passthrough") caps.host_passthrough = supported;
    if (name == "host-model") {
      caps.host_model = supported;
      if (const xmlNode* model = xml::Child(m, "model")) caps.host_model_name = xml::Content(model);
      for (const xmlNode* f = m->children; f; f = f->next) {
        if (f->type == XML_ELEMENT_NODE && xml::Name(f) == "feature" &&
            xml::Prop(f, "policy") == "require") {
          ++caps.host_model_features;
        }
      }
    }
    if (name != "custom") continue;
    for (const xmlNode* model = m->children; model; model = model->next) {
      if (model->type == XML_ELEMENT_NODE && xml::Name(model) == "model" &&
          xml::Prop(model, "usable") == "yes") {
        caps.usable_models.push_back(xml::Content(model));
      }
    }
  }
  return caps;
}

std::string DescribeHost(const HostInfo& h) {
  std::string out = h.kvm ? "KVM" : "TCG (no usable /dev/kvm)";
  if (h.kvm && !h.kvm_module.empty()) out += " (" + h.kvm_module + ")";
  if (h.nested) out += " (nested: this host is itself a VM)";
  out += ", " + (h.model_name.empty() ? std::string("unknown CPU") : h.model_name);
  if (!h.vendor.empty()) out += " (" + h.vendor + ")";
  out += ", kernel " + h.kernel;
  if (!h.qemu_version.empty()) out += ", QEMU " + h.qemu_version;
  if (!h.caps_known) {
    out += "; libvirt's CPU capabilities unknown" +
           (h.caps_error.empty() ? std::string() : " (" + h.caps_error + ")");
    return out;
  }
  out += "; host-passthrough ";
  out += h.caps.host_passthrough ? "supported" : "not supported";
  out += ", host-model ";
  out += h.caps.host_model ? "= " + h.caps.host_model_name + " + " +
                                 std::to_string(h.caps.host_model_features) + " features"
                           : std::string("not supported");
  out += ", " + std::to_string(h.caps.usable_models.size()) + " usable named models";
  return out;
}

std::string HostInfoJson(const HostInfo& h) {
  JsonWriter w;
  w.BeginObject().Key("accelerator").String(h.kvm ? "kvm" : "tcg").Key("nested").Bool(h.nested);
  w.Key("kvm_module").String(h.kvm_module);
  w.Key("vendor").String(h.vendor).Key("model_name").String(h.model_name);
  w.Key("kernel").String(h.kernel).Key("qemu").String(h.qemu_version);
  w.Key("caps_known").Bool(h.caps_known);
  if (h.caps_known) {
    w.Key("host_passthrough").Bool(h.caps.host_passthrough);
    w.Key("host_model").String(h.caps.host_model ? h.caps.host_model_name : "");
    w.Key("usable_models").BeginArray();
    for (const auto& m : h.caps.usable_models) w.String(m);
    w.EndArray();
  } else {
    w.Key("caps_error").String(h.caps_error);
  }
  w.Key("summary").String(DescribeHost(h)).EndObject();
  return w.Take();
}

}  // namespace labvirt::providers
