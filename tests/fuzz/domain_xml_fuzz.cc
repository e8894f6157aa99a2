// Fuzz target: the readers of domain XML that labvirtd runs on what libvirt (or a state file, or
// a Docker label) hands back — ParseNodeMetadata (labvirt's <metadata>), DomainUuid, LivePtyPath,
// HasDiskSource, and the container readers ParseContainerDomain, ParseContainerNic and
// IsContainerDomainXml. A container definition that parses must render back to XML that parses
// again (the docker provider keeps definitions as that text).
#include <cstdint>
#include <string>

#include "providers/container_xml.h"
#include "providers/domain_xml.h"
#include "reactor/base/log.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace labvirt::providers;
  std::string xml(reinterpret_cast<const char*>(data), size);
  (void)ParseNodeMetadata(xml);
  (void)DomainUuid(xml);
  (void)LivePtyPath(xml);
  (void)HasDiskSource(xml, "/var/lib/labvirt/day0.iso");
  (void)ParseContainerNic(xml);
  if (IsContainerDomainXml(xml)) {
    auto def = ParseContainerDomain(xml);
    if (def.ok()) LABVIRT_FUZZ_ASSERT(ParseContainerDomain(RenderContainerDomain(*def)).ok());
  }
  return 0;
}
