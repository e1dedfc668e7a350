// SnapshotWriter: encodes records as a snapshot stream and hands it out in chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kv/machine/snapshot_record.h"
#include "raft/base/status.h"

namespace castor::kv {

// Encodes records in the format of snapshot_record.h and passes the bytes to `sink` in chunks
// of exactly `chunk_bytes` (the last one may be shorter). A sink error stops the writer and is
// returned. It does NOT know what the records mean, or where the chunks go (a file, Raft
// snapshot messages). Not thread-safe; one writer per stream.
class SnapshotWriter {
 public:
  using Sink = std::function<Status(std::string_view chunk)>;

  SnapshotWriter(uint64_t chunk_bytes, Sink sink);

  Status add(uint8_t table, std::string_view key, std::string_view value);
  // Writes the end of the stream and hands out the remaining bytes. Call once, last.
  Status finish();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void append(std::string_view bytes);
  // Hands out every complete chunk held in the buffer (all of it with `all`).
  Status flush(bool all);

  uint64_t chunk_bytes_;
  Sink sink_;
  std::string buffer_;
  uint32_t crc_ = 0;
  uint64_t records_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace castor::kv
