// pcapng blocks (IETF draft-ietf-opsawg-pcapng): the section header, one interface description,
// enhanced packet blocks and a closing interface statistics block — what a live capture stream
// needs and nothing more. Pure: each function appends bytes to a string and touches no fd.
//
// Byte order is the host's (the section header's byte-order magic says which, and readers swap);
// every block is padded to 32 bits. Timestamps are nanoseconds since the Unix epoch: the
// interface description carries if_tsresol = 9.
#ifndef LABVIRT_ENGINE_CAPTURE_PCAPNG_WRITER_H_
#define LABVIRT_ENGINE_CAPTURE_PCAPNG_WRITER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace labvirt::engine::pcapng {

inline constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
inline constexpr uint32_t kInterfaceDescription = 1;
inline constexpr uint32_t kInterfaceStatistics = 5;
inline constexpr uint32_t kEnhancedPacket = 6;
inline constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
inline constexpr uint16_t kLinkTypeEthernet = 1;

// EPB flags bits 0-1 (the direction, as the capturing interface sees it).
enum class Direction : uint32_t { kUnknown = 0, kInbound = 1, kOutbound = 2 };
// EPB flags bits 2-4 (how the frame was addressed).
enum class Reception : uint32_t {
  kUnspecified = 0,
  kUnicast = 1,
  kMulticast = 2,
  kBroadcast = 3,
};

struct InterfaceInfo {
  std::string name;         // if_name
  std::string description;  // if_description
  std::string filter;       // if_filter (libpcap syntax); empty: no option
  uint32_t snaplen = 0;     // 0: no limit
};

struct Statistics {
  uint64_t start_ns = 0;       // isb_starttime
  uint64_t end_ns = 0;         // isb_endtime, and the block's own timestamp
  uint64_t filter_accept = 0;  // isb_filteraccept: frames that passed the filter
  uint64_t os_drop = 0;        // isb_osdrop: frames the kernel dropped (socket queue full)
  uint64_t delivered = 0;      // isb_usrdeliv: frames written to this stream
  std::string comment;         // opt_comment (why the capture ended); empty: none
};

// Appends a section header block (unknown section length) naming `application` (shb_userappl).
void AppendSectionHeader(std::string& out, std::string_view application);
// Appends interface description block number 0..n in the order they are appended.
void AppendInterfaceDescription(std::string& out, const InterfaceInfo& info);
// Appends an enhanced packet block on interface `interface_id`: `data` is what was captured,
// `original_length` the frame's length on the wire (>= data.size()).
void AppendEnhancedPacket(std::string& out, uint32_t interface_id, uint64_t timestamp_ns,
                          std::span<const char> data, uint32_t original_length, Direction direction,
                          Reception reception);
// Appends an interface statistics block for `interface_id`.
void AppendInterfaceStatistics(std::string& out, uint32_t interface_id, const Statistics& stats);

// The reception type of an Ethernet frame from its destination MAC (the first 6 bytes):
// broadcast, multicast (group bit set), else unicast; kUnspecified for a runt.
Reception ReceptionOf(std::span<const char> frame);

}  // namespace labvirt::engine::pcapng

#endif  // LABVIRT_ENGINE_CAPTURE_PCAPNG_WRITER_H_
