// What the domain XML tests share: a small device kind and a node's DomainSpec of it.
#ifndef LABVIRT_TESTS_UNIT_PROVIDERS_DOMAIN_SPEC_FIXTURE_H_
#define LABVIRT_TESTS_UNIT_PROVIDERS_DOMAIN_SPEC_FIXTURE_H_

#include <string>

#include "providers/domain_xml.h"
#include "providers/node_naming.h"

namespace labvirt::providers::testing {

inline DeviceKind Kind() {
  DeviceKind k;
  k.name = "test";
  k.vendor = "V";
  k.interface_prefix = "Gi0/";
  k.max_nics = 8;
  k.default_nics = 2;
  k.readiness.success = {"login:"};
  return k;
}

inline DomainSpec Spec() {
  DomainSpec s;
  s.lab = "lab1";
  s.node = "r1";
  s.kind = Kind();
  s.kind_name = "test";
  s.tag = NodeTag("lab1", "r1");
  s.overlay_path = "/var/lib/labvirt/disks/lab1/r1.qcow2";
  s.state_dir = "/var/lib/labvirt";
  s.image = "iosv.qcow2";
  return s;
}

inline bool Has(const std::string& xml, const std::string& part) {
  return xml.find(part) != std::string::npos;
}

}  // namespace labvirt::providers::testing

#endif  // LABVIRT_TESTS_UNIT_PROVIDERS_DOMAIN_SPEC_FIXTURE_H_
