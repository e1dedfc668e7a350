// SnapshotReader: decodes a snapshot stream from chunks and verifies it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "kv/machine/snapshot_record.h"
#include "raft/base/status.h"

namespace castor::kv {

// Pulls chunks from `source` and returns the records of the stream (format: snapshot_record.h)
// one by one. A chunk boundary may fall anywhere, even inside a length.
//
// The checksum covers the whole stream, so records are tentative until next() returns nullopt,
// which means: the end was reached, the record count and the checksum match, and nothing
// follows. Any defect is CORRUPTION: a wrong magic, a stream that stops early, a record longer
// than `record_bytes_max` (checked before allocating, so a damaged length cannot exhaust
// memory), a checksum mismatch, bytes after the end. An error from the source is returned as is.
// It does NOT interpret records. Not thread-safe.
class SnapshotReader {
 public:
  // Returns the next chunk of the stream, or an empty string once the stream is over.
  using Source = std::function<Result<std::string>()>;

  SnapshotReader(Source source, uint64_t record_bytes_max);

  Result<std::optional<SnapshotRecord>> next();

 private:
  // Makes `n` unread bytes available; CORRUPTION if the stream ends first.
  Status need(size_t n);
  // Consumes `n` available bytes and adds them to the checksum.
  std::string_view take(size_t n);
  Status check_end();

  Source source_;
  uint64_t record_bytes_max_;
  std::string buffer_;
  size_t offset_ = 0;
  bool source_done_ = false;
  bool started_ = false;
  bool finished_ = false;
  uint32_t crc_ = 0;
  uint64_t records_ = 0;
};

}  // namespace castor::kv
