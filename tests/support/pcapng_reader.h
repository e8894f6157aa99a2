// A small pcapng reader for tests: splits a host-byte-order stream into blocks and decodes the
// fields labvirt's captures carry (interface names and options, packet data, EPB flags,
// statistics counters and comments). Independent of engine/capture's writer on purpose: it reads
// the format from its specification, so a writer bug does not hide behind a shared helper.
#ifndef LABVIRT_TESTS_SUPPORT_PCAPNG_READER_H_
#define LABVIRT_TESTS_SUPPORT_PCAPNG_READER_H_

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labvirt::testing {

struct PcapngBlock {
  uint32_t type = 0;
  std::string body;  // between the two length fields
  // Options by code (the last value of a repeated code wins), for the block types that have them.
  std::map<uint16_t, std::string> options;
  // Enhanced packet blocks.
  uint32_t interface_id = 0;
  uint64_t timestamp = 0;
  uint32_t captured = 0, original = 0;
  std::string data;
  uint32_t Flags() const {
    auto it = options.find(2);
    uint32_t f = 0;
    if (it != options.end() && it->second.size() == 4) std::memcpy(&f, it->second.data(), 4);
    return f;
  }
  uint64_t Counter(uint16_t code) const {
    auto it = options.find(code);
    uint64_t v = 0;
    if (it != options.end() && it->second.size() == 8) std::memcpy(&v, it->second.data(), 8);
    return v;
  }
};

template <typename T>
T ReadAt(std::string_view s, size_t at) {
  T v{};
  if (at + sizeof v <= s.size()) std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

inline std::map<uint16_t, std::string> ParseOptions(std::string_view s) {
  std::map<uint16_t, std::string> out;
  size_t at = 0;
  while (at + 4 <= s.size()) {
    uint16_t code = ReadAt<uint16_t>(s, at), len = ReadAt<uint16_t>(s, at + 2);
    if (code == 0) break;
    if (at + 4 + len > s.size()) break;
    out[code] = std::string(s.substr(at + 4, len));
    at += 4 + len + (4 - len % 4) % 4;
  }
  return out;
}

// Splits `stream` into whole blocks; *rest (if given) gets the bytes of an incomplete last block.
// Returns nullopt when a block is malformed (lengths differ, not a multiple of 4).
inline std::optional<std::vector<PcapngBlock>> ParsePcapng(std::string_view stream,
                                                           size_t* rest = nullptr) {
  std::vector<PcapngBlock> out;
  size_t at = 0;
  while (at + 12 <= stream.size()) {
    uint32_t type = ReadAt<uint32_t>(stream, at), len = ReadAt<uint32_t>(stream, at + 4);
    if (len < 12 || len % 4 != 0) return std::nullopt;
    if (at + len > stream.size()) break;
    if (ReadAt<uint32_t>(stream, at + len - 4) != len) return std::nullopt;
    PcapngBlock b;
    b.type = type;
    b.body = std::string(stream.substr(at + 8, len - 12));
    std::string_view body = b.body;
    switch (type) {
      case 0x0A0D0D0A:
        if (body.size() >= 16) b.options = ParseOptions(body.substr(16));
        break;
      case 1:
        if (body.size() >= 8) b.options = ParseOptions(body.substr(8));
        break;
      case 5:
        b.interface_id = ReadAt<uint32_t>(body, 0);
        b.timestamp = (uint64_t{ReadAt<uint32_t>(body, 4)} << 32) | ReadAt<uint32_t>(body, 8);
        if (body.size() >= 12) b.options = ParseOptions(body.substr(12));
        break;
      case 6: {
        b.interface_id = ReadAt<uint32_t>(body, 0);
        b.timestamp = (uint64_t{ReadAt<uint32_t>(body, 4)} << 32) | ReadAt<uint32_t>(body, 8);
        b.captured = ReadAt<uint32_t>(body, 12);
        b.original = ReadAt<uint32_t>(body, 16);
        if (20 + b.captured > body.size()) return std::nullopt;
        b.data = std::string(body.substr(20, b.captured));
        size_t opts = 20 + b.captured + (4 - b.captured % 4) % 4;
        if (opts <= body.size()) b.options = ParseOptions(body.substr(opts));
        break;
      }
      default:
        break;
    }
    out.push_back(std::move(b));
    at += len;
  }
  if (rest != nullptr) *rest = stream.size() - at;
  return out;
}

}  // namespace labvirt::testing

#endif  // LABVIRT_TESTS_SUPPORT_PCAPNG_READER_H_
