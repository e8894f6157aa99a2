// Who may use the control socket: root, the daemon's own user, members of group labvirt (primary
// or supplementary); nobody else. And the credentials the kernel gives for a socket pair.
#include "engine/control/peer_access.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "reactor/base/unique_fd.h"

namespace labvirt::engine {
namespace {

constexpr gid_t kLabvirt = 990;
constexpr uid_t kDaemon = 0;

PeerCredentials Peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  return PeerCredentials{1234, uid, gid, std::move(groups)};
}

TEST(PeerAccessTest, RootAndTheDaemonsOwnUserMayConnect) {
  EXPECT_TRUE(PeerAllowed(Peer(0, 0), kDaemon, kLabvirt));
  EXPECT_TRUE(PeerAllowed(Peer(0, 0), kDaemon, std::nullopt));
  EXPECT_TRUE(PeerAllowed(Peer(1500, 1500), 1500, std::nullopt)) << "a daemon run by a user";
}

TEST(PeerAccessTest, MembersOfLabvirtMayConnectByPrimaryOrSupplementaryGroup) {
  EXPECT_TRUE(PeerAllowed(Peer(1000, kLabvirt), kDaemon, kLabvirt));
  EXPECT_TRUE(PeerAllowed(Peer(1000, 1000, {27, kLabvirt}), kDaemon, kLabvirt));
}

TEST(PeerAccessTest, EveryoneElseIsRefused) {
  EXPECT_FALSE(PeerAllowed(Peer(1000, 1000, {27, 100}), kDaemon, kLabvirt));
  EXPECT_FALSE(PeerAllowed(Peer(65534, 65534), kDaemon, kLabvirt));
  EXPECT_FALSE(PeerAllowed(Peer(1000, kLabvirt), kDaemon, std::nullopt))
      << "no labvirt group on the host: only root and the daemon's user";
}

TEST(PeerAccessTest, RefusalSaysWhoAndWhatToDo) {
  std::string m = RefusalMessage(Peer(65534, 65534));
  EXPECT_NE(m.find("uid 65534 (pid 1234)"), std::string::npos) << m;
  EXPECT_NE(m.find("add the user to group labvirt"), std::string::npos) << m;
}

TEST(PeerAccessTest, ReadsThisProcessAtTheOtherEndOfASocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd a(fds[0]), b(fds[1]);
  auto peer = ReadPeerCredentials(a.get());
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_EQ(peer->pid, ::getpid());
  EXPECT_EQ(peer->uid, ::geteuid());
  EXPECT_EQ(peer->gid, ::getegid());
  std::vector<gid_t> mine(static_cast<size_t>(::getgroups(0, nullptr)));
  mine.resize(static_cast<size_t>(::getgroups(static_cast<int>(mine.size()), mine.data())));
  EXPECT_EQ(peer->groups.size(), mine.size());
}

TEST(PeerAccessTest, ASocketThatIsNotUnixHasNoCredentials) {
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(udp.valid());
  EXPECT_FALSE(ReadPeerCredentials(udp.get()).ok());
}

}  // namespace
}  // namespace labvirt::engine
