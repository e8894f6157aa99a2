// Who may use the control socket. labvirtd runs as root and a client can run labs (domains,
// ports, files under the image root), so the socket is the trust boundary: its file is mode 0660,
// group `labvirt`, and the kernel refuses anyone else at connect(). This is the second check, in
// the daemon, for when the file's mode or place changes (a chmod by hand, a bind mount into a
// container): each accepted connection's peer credentials (SO_PEERCRED, SO_PEERGROUPS) must be
// root's, the daemon's own user's, or carry the `labvirt` group (primary or supplementary).
#ifndef LABVIRT_ENGINE_CONTROL_PEER_ACCESS_H_
#define LABVIRT_ENGINE_CONTROL_PEER_ACCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::engine {

// The process at the other end of a Unix stream socket, as the kernel recorded it at connect().
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

// Reads the peer of connected Unix socket `fd` (SO_PEERCRED, then SO_PEERGROUPS).
Result<PeerCredentials> ReadPeerCredentials(int fd);

// The group whose members may connect: `labvirt`'s gid, or nullopt when the host has no such
// group (then only root and the daemon's own user may).
std::optional<gid_t> AccessGroup();

// Pure: true when `peer` is root, is `own_uid`, or has `group` as its primary or a supplementary
// group.
bool PeerAllowed(const PeerCredentials& peer, uid_t own_uid, std::optional<gid_t> group);

// What a refused client is told, e.g. "uid 65534 (pid 812) is neither root nor in group labvirt:
// ask an administrator to add the user to group labvirt".
std::string RefusalMessage(const PeerCredentials& peer);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CONTROL_PEER_ACCESS_H_
