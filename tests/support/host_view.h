// What labvirt left on the host, seen the way a user sees it (ovs-vsctl, libvirt), for the
// integration tests. Labs and nodes are named as labvirt names their domains: lv-LAB-NODE-TAG.
#ifndef LABVIRT_TESTS_SUPPORT_HOST_VIEW_H_
#define LABVIRT_TESTS_SUPPORT_HOST_VIEW_H_

#include <libvirt/libvirt.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace labvirt::testing {

// The running libvirtd's pid (from /run/libvirtd.pid, as tools/setup-host starts it); 0 if none.
inline pid_t LibvirtdPid() {
  std::ifstream in("/run/libvirtd.pid");
  pid_t pid = 0;
  in >> pid;
  return pid > 0 && ::kill(pid, 0) == 0 ? pid : 0;
}

// The lines `cmd` (run by the shell) prints, without their line ends.
inline std::vector<std::string> OutputLines(const std::string& cmd) {
  std::vector<std::string> out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    out.push_back(l);
  }
  ::pclose(p);
  return out;
}

// "name,tag" lines of the OVS ports labvirt made for this lab (via ovs-vsctl, the user's view).
inline std::vector<std::string> PortsOfLab(const std::string& lab) {
  return OutputLines(
      "ovs-vsctl --no-wait --format=csv --data=bare --no-headings "
      "--columns=name,tag find port external_ids:lab=" +
      lab + " 2>/dev/null");
}

// "name state" lines of the lab's containers, running or not, as Docker lists them (labvirt
// labels each with its lab).
inline std::vector<std::string> ContainersOfLab(const std::string& lab) {
  return OutputLines("docker ps -a --filter label=labvirt.lab=" + lab +
                     " --format '{{.Names}} {{.State}}' 2>/dev/null");
}

// libvirt ids of the domains whose names start with `prefix` (-1 for one that is off; -2 in the
// list when libvirt cannot be reached).
inline std::vector<int> DomainIds(const std::string& prefix) {
  virConnectPtr conn = virConnectOpen("qemu:///system");
  if (conn == nullptr) return {-2};
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn, &doms, 0);
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) {
    if (std::string(virDomainGetName(doms[i])).rfind(prefix, 0) == 0) {
      ids.push_back(virDomainIsActive(doms[i]) == 1 ? static_cast<int>(virDomainGetID(doms[i]))
                                                    : -1);
    }
    virDomainFree(doms[i]);
  }
  free(doms);
  virConnectClose(conn);
  return ids;
}

inline int DomainsOfLab(const std::string& lab) {
  auto ids = DomainIds("lv-" + lab + "-");
  return !ids.empty() && ids[0] == -2 ? -1 : static_cast<int>(ids.size());
}

// The QEMU process of a node's domain (its id changes when the VM restarts); -1 when off.
inline int DomainId(const std::string& lab, const std::string& node) {
  auto ids = DomainIds("lv-" + lab + "-" + node + "-");
  return ids.empty() ? -1 : ids[0];
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_HOST_VIEW_H_
