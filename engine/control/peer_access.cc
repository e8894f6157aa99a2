#include "engine/control/peer_access.h"

#include <grp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace labvirt::engine {

Result<PeerCredentials> ReadPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    return Status::FromErrno(errno, "SO_PEERCRED");
  }
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  // The kernel answers ERANGE with the size it needs when the buffer is too small.
  std::vector<gid_t> groups(32);
  for (int tries = 0; tries < 2; ++tries) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      peer.groups = std::move(groups);
      return peer;
    }
    if (errno != ERANGE) return Status::FromErrno(errno, "SO_PEERGROUPS");
    groups.resize(bytes / sizeof(gid_t) + 1);
  }
  return Status::FromErrno(ERANGE, "SO_PEERGROUPS");
}

std::optional<gid_t> AccessGroup() {
  // getgrnam_r: the reactor thread is not the only caller of the group database (workers).
  group g{}, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getgrnam_r("labvirt", &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return g.gr_gid;
}

bool PeerAllowed(const PeerCredentials& peer, uid_t own_uid, std::optional<gid_t> group) {
  if (peer.uid == 0 || peer.uid == own_uid) return true;
  if (!group) return false;
  return peer.gid == *group ||
         std::find(peer.groups.begin(), peer.groups.end(), *group) != peer.groups.end();
}

std::string RefusalMessage(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) +
         ") is neither root nor in group labvirt: ask an administrator to add the user to group "
         "labvirt";
}

}  // namespace labvirt::engine
