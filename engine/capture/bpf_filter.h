// Capture filters: tcpdump's expression language compiled to a classic BPF program by libpcap
// (pcap_open_dead + pcap_compile: no device is opened), for SO_ATTACH_FILTER on a packet socket.
// Thread-safe (each call has its own libpcap handle; libpcap >= 1.8 compiles reentrantly).
#ifndef LABVIRT_ENGINE_CAPTURE_BPF_FILTER_H_
#define LABVIRT_ENGINE_CAPTURE_BPF_FILTER_H_

#include <linux/filter.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "reactor/base/status.h"

namespace labvirt::engine {

// Compiles `expression` for Ethernet frames, keeping at most `snaplen` bytes of each accepted
// frame (the kernel truncates to the program's return value). An empty expression accepts every
// frame. InvalidArgument with libpcap's own message when it does not compile.
Result<std::vector<sock_filter>> CompileFilter(std::string_view expression, uint32_t snaplen);

}  // namespace labvirt::engine

#endif  // LABVIRT_ENGINE_CAPTURE_BPF_FILTER_H_
