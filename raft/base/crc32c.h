// CRC-32C (Castagnoli): the checksum of stored log entries and of snapshot streams.
//
// What it does NOT do: guard against deliberate changes (a CRC is not a cryptographic hash), or
// store and compare checksums: its callers do (raft/storage/log_format.h, the snapshot streams).
#pragma once

#include <cstdint>
#include <string_view>

namespace castor {

// Extends `crc` (0 for a fresh checksum) over `data`: crc32c_extend(crc32c_extend(0, a), b)
// equals the checksum of a followed by b, so a stream can be checksummed chunk by chunk.
// Uses the CPU's crc32 instruction where there is one (x86-64 with SSE4.2).
uint32_t crc32c_extend(uint32_t crc, std::string_view data);
// The same function, a table lookup per byte on any CPU (the reference the tests compare with).
uint32_t crc32c_extend_portable(uint32_t crc, std::string_view data);

}  // namespace castor
