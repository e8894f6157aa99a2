#include "engine/capture/pcapng_writer.h"

#include <algorithm>
#include <cstring>

namespace labvirt::engine::pcapng {
namespace {

// Option codes (pcapng §3.5 and the per-block tables).
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kIfFilter = 11;
constexpr uint16_t kEpbFlags = 2;
constexpr uint16_t kIsbStartTime = 2;
constexpr uint16_t kIsbEndTime = 3;
constexpr uint16_t kIsbFilterAccept = 6;
constexpr uint16_t kIsbOsDrop = 7;
constexpr uint16_t kIsbUsrDeliv = 8;

size_t Pad4(size_t n) { return (4 - n % 4) % 4; }

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

void PutBytes(std::string& out, const char* data, size_t n) {
  out.append(data, n);
  out.append(Pad4(n), '\0');
}

void PutOption(std::string& out, uint16_t code, std::string_view value) {
  Put<uint16_t>(out, code);
  Put<uint16_t>(out, static_cast<uint16_t>(std::min<size_t>(value.size(), 0xFFFF)));
  PutBytes(out, value.data(), std::min<size_t>(value.size(), 0xFFFF));
}

template <typename T>
void PutOptionValue(std::string& out, uint16_t code, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  PutOption(out, code, std::string_view(b, sizeof v));
}

// A timestamp as the format stores it: the high 32 bits, then the low 32 bits.
void PutTimestamp(std::string& out, uint64_t ns) {
  Put<uint32_t>(out, static_cast<uint32_t>(ns >> 32));
  Put<uint32_t>(out, static_cast<uint32_t>(ns));
}

// Opens a block at the end of `out`; Close() writes its length at both ends.
class Block {
 public:
  Block(std::string& out, uint32_t type) : out_(out), start_(out.size()) {
    Put<uint32_t>(out_, type);
    Put<uint32_t>(out_, 0);  // patched by Close()
  }
  void Close() {
    Put<uint16_t>(out_, kOptEnd);
    Put<uint16_t>(out_, 0);
    const auto total = static_cast<uint32_t>(out_.size() - start_ + 4);
    Put<uint32_t>(out_, total);
    std::memcpy(out_.data() + start_ + 4, &total, sizeof total);
  }

 private:
  std::string& out_;
  size_t start_;
};

}  // namespace

void AppendSectionHeader(std::string& out, std::string_view application) {
  Block b(out, kSectionHeader);
  Put<uint32_t>(out, kByteOrderMagic);
  Put<uint16_t>(out, 1);  // major
  Put<uint16_t>(out, 0);  // minor
  Put<int64_t>(out, -1);  // section length unknown: the stream is live
  PutOption(out, kShbUserAppl, application);
  b.Close();
}

void AppendInterfaceDescription(std::string& out, const InterfaceInfo& info) {
  Block b(out, kInterfaceDescription);
  Put<uint16_t>(out, kLinkTypeEthernet);
  Put<uint16_t>(out, 0);
  Put<uint32_t>(out, info.snaplen);
  PutOption(out, kIfName, info.name);
  if (!info.description.empty()) PutOption(out, kIfDescription, info.description);
  PutOptionValue<uint8_t>(out, kIfTsresol, 9);  // 10^-9 s
  if (!info.filter.empty()) {
    // The first byte says which syntax: 0 is libpcap's filter string.
    PutOption(out, kIfFilter, std::string(1, '\0') + info.filter);
  }
  b.Close();
}

void AppendEnhancedPacket(std::string& out, uint32_t interface_id, uint64_t timestamp_ns,
                          std::span<const char> data, uint32_t original_length, Direction direction,
                          Reception reception) {
  Block b(out, kEnhancedPacket);
  Put<uint32_t>(out, interface_id);
  PutTimestamp(out, timestamp_ns);
  Put<uint32_t>(out, static_cast<uint32_t>(data.size()));
  Put<uint32_t>(out, std::max<uint32_t>(original_length, static_cast<uint32_t>(data.size())));
  PutBytes(out, data.data(), data.size());
  const uint32_t flags = static_cast<uint32_t>(direction) | (static_cast<uint32_t>(reception) << 2);
  PutOptionValue<uint32_t>(out, kEpbFlags, flags);
  b.Close();
}

void AppendInterfaceStatistics(std::string& out, uint32_t interface_id, const Statistics& s) {
  Block b(out, kInterfaceStatistics);
  Put<uint32_t>(out, interface_id);
  PutTimestamp(out, s.end_ns);
  if (!s.comment.empty()) PutOption(out, kOptComment, s.comment);
  std::string ts;
  PutTimestamp(ts, s.start_ns);
  PutOption(out, kIsbStartTime, ts);
  ts.clear();
  PutTimestamp(ts, s.end_ns);
  PutOption(out, kIsbEndTime, ts);
  PutOptionValue<uint64_t>(out, kIsbFilterAccept, s.filter_accept);
  PutOptionValue<uint64_t>(out, kIsbOsDrop, s.os_drop);
  PutOptionValue<uint64_t>(out, kIsbUsrDeliv, s.delivered);
  b.Close();
}

Reception ReceptionOf(std::span<const char> frame) {
  if (frame.size() < 6) return Reception::kUnspecified;
  const auto* mac = reinterpret_cast<const unsigned char*>(frame.data());
  if (std::all_of(mac, mac + 6, [](unsigned char c) { return c == 0xFF; })) {
    return Reception::kBroadcast;
  }
  return (mac[0] & 1) != 0 ? Reception::kMulticast : Reception::kUnicast;
}

}  // namespace labvirt::engine::pcapng
