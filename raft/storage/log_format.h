// The on-disk format of LmdbLog, version 1: key names and record encodings. LmdbLog reads and
// writes through these functions, and so do tests that plant damage in a log on purpose.
//
//   <data_dir>/log/            one LMDB environment with two named databases:
//     "entries"  key: the index as 8 big-endian bytes, so LMDB's byte order is index order and
//                the file does not depend on the machine's byte order (unlike MDB_INTEGERKEY)
//                value: record(term as 8 big-endian bytes | serialized pb::Entry)
//     "meta"     "format"     -> record(u32 big-endian format version)
//                "hard_state" -> record(serialized pb::HardState)
//                "snapshot"   -> record(crc32c of the snapshot data, u32 big-endian |
//                                       serialized pb::SnapshotMeta)
//   <data_dir>/log/castor.lock  flock()ed while open: one process per data directory
//   <data_dir>/snapshot/       the snapshot data file, if the data is not empty (SnapshotFiles)
//
// record(body) = the CRC-32C (raft/base/crc32c.h) of key | body as u32 big-endian, then body. The
// checksum covers the key so that a value stored under the wrong key fails it too. The entry's
// term sits outside the protobuf so that open can index terms without parsing every entry.
//
// What it does NOT do: any I/O. These functions only encode and check bytes; LmdbLog reads and
// writes the database and decides what a failed check means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/base/crc32c.h"
#include "raft/types.h"

namespace castor::raft::log_format {

inline constexpr uint32_t kVersion = 1;
inline constexpr char kEntriesDb[] = "entries";
inline constexpr char kMetaDb[] = "meta";
inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kHardStateKey = "hard_state";
inline constexpr std::string_view kSnapshotKey = "snapshot";

inline void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
inline void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
// The caller has checked that at least 4 (8) bytes are there.
inline uint32_t get_u32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
inline uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

inline std::string index_key(LogIndex i) {
  std::string key;
  put_u64(key, i.value);
  return key;
}

inline std::string seal(std::string_view key, std::string_view body) {
  std::string out;
  out.reserve(4 + body.size());
  put_u32(out, crc32c_extend(crc32c_extend(0, key), body));
  out.append(body);
  return out;
}

// The body of a record, or nullopt when it is too short or fails its checksum.
inline std::optional<std::string_view> unseal(std::string_view key, std::string_view record) {
  if (record.size() < 4) return std::nullopt;
  const std::string_view body = record.substr(4);
  if (get_u32(record) != crc32c_extend(crc32c_extend(0, key), body)) return std::nullopt;
  return body;
}

}  // namespace castor::raft::log_format
