// SnapshotRecord and the byte format of a snapshot stream (written by SnapshotWriter, read by
// SnapshotReader). The format is stable: snapshots outlive binaries (backups, InstallSnapshot
// between nodes of different versions during an upgrade).
//
//   stream = magic record* end
//   magic  = "CASTORS1"                           the format and its version, 8 bytes
//   record = table:u8 (not 0) | key_bytes:u32 | value_bytes:u32 | key | value
//   end    = 0:u8 | records:u64 | crc32c:u32      CRC-32C of every byte before it
// Integers are big-endian. The checksum at the end covers the whole stream, so a reader knows a
// stream is good only once it reached the end: a consumer applies records tentatively (in one
// transaction) and keeps them only then.
//
// What it does NOT do: encode, decode or check a stream (SnapshotWriter and SnapshotReader do); it
// holds only the format's constants and the record type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace castor::kv {

inline constexpr std::string_view kSnapshotMagic = "CASTORS1";
inline constexpr uint8_t kSnapshotEndTag = 0;

// One key/value pair of one table; what a table id means is up to the producer and consumer.
struct SnapshotRecord {
  uint8_t table = 0;
  std::string key;
  std::string value;
};

}  // namespace castor::kv
