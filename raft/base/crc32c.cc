#include "raft/base/crc32c.h"

#include <array>
#include <cstring>

namespace castor {
namespace {

// Byte-at-a-time table for the reflected Castagnoli polynomial.
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

#if defined(__x86_64__)
// SSE4.2's crc32 instruction computes exactly this CRC (same polynomial, reflected, no
// inversion), eight bytes per instruction: every log entry is checksummed when written and
// again when read back, and the table version showed up as a tenth of a leader's CPU time
// under load (docs/PERFORMANCE.md).
__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, static_cast<uint8_t>(*p));
  return ~c32;
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, std::string_view data) {
  crc = ~crc;
  for (char c : data) crc = kTable[(crc ^ static_cast<uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
#if defined(__x86_64__)
  if (kHaveSse42) return extend_sse42(crc, data);
#endif
  return crc32c_extend_portable(crc, data);
}

}  // namespace castor
