#include "engine/capture/bpf_filter.h"

#include <pcap/pcap.h>

#include <memory>
#include <string>

namespace labvirt::engine {
namespace {

struct PcapClose {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

}  // namespace

Result<std::vector<sock_filter>> CompileFilter(std::string_view expression, uint32_t snaplen) {
  // libpcap's snaplen is an int; anything above 256 KiB is its own maximum anyway.
  const int len = static_cast<int>(std::min<uint32_t>(snaplen, 262144));
  std::unique_ptr<pcap_t, PcapClose> dead(pcap_open_dead(DLT_EN10MB, len));
  if (!dead) return Internal("pcap_open_dead failed");
  const std::string text(expression);
  bpf_program prog{};
  // PCAP_NETMASK_UNKNOWN: a tap has no address of its own, so "ip broadcast" cannot be resolved.
  if (pcap_compile(dead.get(), &prog, text.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) != 0) {
    return InvalidArgument("filter does not compile: " + std::string(pcap_geterr(dead.get())));
  }
  // struct bpf_insn and the kernel's struct sock_filter have the same layout (code, jt, jf, k).
  static_assert(sizeof(bpf_insn) == sizeof(sock_filter));
  std::vector<sock_filter> out(prog.bf_len);
  for (u_int i = 0; i < prog.bf_len; ++i) {
    const bpf_insn& in = prog.bf_insns[i];
    out[i] = sock_filter{in.code, in.jt, in.jf, in.k};
  }
  pcap_freecode(&prog);
  return out;
}

}  // namespace labvirt::engine
