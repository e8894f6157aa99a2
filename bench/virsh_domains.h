// The baseline of the deploy benchmarks: the domains labvirt would define for a lab of `count`
// nodes of one kind (same XML from providers::BuildDomain, same overlays and console logs), defined
// by hand through libvirt, and removed again. Header-only.
#ifndef LABVIRT_BENCH_VIRSH_DOMAINS_H_
#define LABVIRT_BENCH_VIRSH_DOMAINS_H_

#include <libvirt/libvirt.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "providers/domain_xml.h"
#include "providers/node_naming.h"
#include "providers/state_paths.h"
#include "reactor/base/json_writer.h"
#include "reactor/base/status.h"

namespace labvirt::bench {

// labvirt's side of the same lab: lab.deploy's params for nodes n0..n{count-1} of kind iosv on
// image iosv.qcow2, 64 MiB and one NIC each (the fixture the deploy benchmarks boot).
inline std::string FixtureLabSpec(const std::string& lab, int count) {
  JsonWriter w;
  w.BeginObject().Key("name").String(lab).Key("nodes").BeginArray();
  for (int i = 0; i < count; ++i) {
    w.BeginObject().Key("name").String("n" + std::to_string(i)).Key("kind").String("iosv");
    w.Key("image").String("iosv.qcow2").Key("memory_mb").Int(64).Key("nics").Int(1).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

// Defines nodes n0..n{count-1} of lab `lab` with kind `kind` on base image `image`; their overlays
// go under `state_dir`/virsh/`lab`. The domain names in node order, or the step that failed.
inline Result<std::vector<std::string>> DefineByHand(virConnectPtr conn, const std::string& lab,
                                                     int count, const providers::DeviceKind& kind,
                                                     const std::string& kind_name,
                                                     const std::string& image,
                                                     const std::string& state_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::set<std::string> macs;
  for (int i = 0; i < count; ++i) {
    providers::DomainSpec ds;
    ds.lab = lab;
    ds.node = "n" + std::to_string(i);
    ds.kind = kind;
    ds.kind_name = kind_name;
    ds.tag = providers::NodeTag(lab, ds.node);
    ds.domain_type = ::access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "qemu";
    ds.image = image;
    ds.overlay_path = state_dir + "/virsh/" + lab + "/" + ds.node + ".qcow2";
    ds.state_dir = state_dir;
    ds.nics = 1;
    ds.macs_in_use = macs;
    auto built = providers::BuildDomain(ds);
    if (!built.ok()) return built.status();
    for (const auto& nic : built->metadata.nics) macs.insert(nic.mac);
    fs::create_directories(fs::path(ds.overlay_path).parent_path());
    fs::create_directories(providers::LogDir(state_dir, lab));
    std::string create =
        "qemu-img create -q -f qcow2 -F qcow2 -b " + ds.image + " " + ds.overlay_path;
    if (std::system(create.c_str()) != 0) return Internal("qemu-img create failed");
    virDomainPtr d = virDomainDefineXML(conn, built->xml.c_str());
    if (d == nullptr) return Internal("virDomainDefineXML failed");
    virDomainFree(d);
    names.push_back(built->name);
  }
  return names;
}

// Destroys and undefines `names`, and removes the overlays and logs of `lab`.
inline void RemoveByHand(virConnectPtr conn, const std::vector<std::string>& names,
                         const std::string& lab, const std::string& state_dir) {
  for (const auto& n : names) {
    virDomainPtr d = virDomainLookupByName(conn, n.c_str());
    if (d == nullptr) continue;
    virDomainDestroy(d);
    virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_NVRAM);
    virDomainFree(d);
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir + "/virsh/" + lab, ec);
  std::filesystem::remove_all(providers::LogDir(state_dir, lab), ec);
}

}  // namespace labvirt::bench

#endif  // LABVIRT_BENCH_VIRSH_DOMAINS_H_
