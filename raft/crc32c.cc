#include "raft/crc32c.h"

#include <array>

namespace castor {
namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial. Snapshots are streamed far
// slower than this runs (about 1 GB/s), so a faster variant would buy nothing.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  crc = ~crc;
  for (char c : data) crc = kTable[(crc ^ static_cast<uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace castor
