// The engine's string identities, each made and read back in one place:
//
//   link id   "a_node:a_if--b_node:b_if"   (written into both ends' NIC metadata; reconcile
//                                           rebuilds the lab's links from it)
//   NIC key   "m" | "rN" | "N"             (management, reserved N, data N: the plumber's and the
//                                           domain builder's key for a NIC)
#ifndef LABVIRT_ENGINE_LAB_IDENTITIES_H_
#define LABVIRT_ENGINE_LAB_IDENTITIES_H_

#include <optional>
#include <string>
#include <string_view>

#include "providers/domain_xml.h"

namespace labvirt::engine {

struct LinkEnds {
  std::string a_node, a_interface, b_node, b_interface;
};

std::string MakeLinkId(const LinkEnds& ends);
// The ends named by `id`; nullopt when it is not a link id (metadata written by hand, say).
std::optional<LinkEnds> ParseLinkId(std::string_view id);

std::string NicKey(const providers::NicMetadata& nic);
// The number OVS records for the NIC (external_ids): data N is N, the management NIC 1000,
// reserved N 2000+N; -1 for a key NicKey does not make.
int NicNumber(std::string_view key);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_LAB_IDENTITIES_H_
