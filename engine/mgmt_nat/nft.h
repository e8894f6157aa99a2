// Installing and removing a lab's NAT table with the nft tool, and IPv4 forwarding.
//
// Blocking: each call runs one `nft` process (posix_spawn, script on stdin, stdout and stderr in
// memory files) and waits for it, so call it from the worker pool, never the reactor thread.
// Writing nfnetlink batches ourselves is not worth it for a change per lab deploy or destroy.
// Safe from several threads at once (nft's transactions are atomic in the kernel). Needs
// CAP_NET_ADMIN. The child is reaped with waitpid on its own pid.
#ifndef LABVIRT_ENGINE_MGMT_NAT_NFT_H_
#define LABVIRT_ENGINE_MGMT_NAT_NFT_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/mgmt_nat/nat_rules.h"
#include "reactor/base/status.h"

namespace labvirt::engine::mgmt {

inline constexpr char kNft[] = "/usr/sbin/nft";

// Creates or atomically replaces the table of `plan` (NatRuleset). InvalidArgument when the plan
// is invalid (nothing runs); Internal carrying nft's stderr when nft fails, in which case the
// table is as it was before.
Status ApplyNat(const NatPlan& plan, const std::string& nft = kNft);

// Deletes table `ip <table>` and every rule in it; OK when it does not exist. InvalidArgument for
// a name that is not a labvirt table name (IsValidTableName): nothing else is ever deleted.
Status RemoveNat(const std::string& table, const std::string& nft = kNft);

// The names of the `ip` family tables called labvirt_* (for the leftover sweep after a crash).
// Tables of other families or names are not listed. Internal with nft's stderr on failure.
Result<std::vector<std::string>> ListNatTables(const std::string& nft = kNft);

// The labvirt_* table names of family ip in the output of `nft list tables` ("table ip NAME"
// lines), in order. Pure.
std::vector<std::string> ParseNatTables(std::string_view list_tables_output);

// Sets the sysctl at `path` (net.ipv4.ip_forward) to 1 when it is 0. Returns true when it changed
// it (the caller logs that), false when it was already on. labvirt turns forwarding on only when
// a lab asks for NAT and never turns it off: by then other software may rely on it. Writing it
// also resets the per-interface router/host defaults (accept_redirects…) as the kernel documents
// for ip_forward; that is why it is written only when it is 0.
Result<bool> EnsureIpForwarding(const std::string& path = "/proc/sys/net/ipv4/ip_forward");

}  // namespace labvirt::engine::mgmt

#endif  // LABVIRT_ENGINE_MGMT_NAT_NFT_H_
