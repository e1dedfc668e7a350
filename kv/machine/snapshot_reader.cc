#include "kv/machine/snapshot_reader.h"

#include <utility>

#include "kv/machine/encoding.h"
#include "raft/base/crc32c.h"

namespace castor::kv {
namespace {

Status corrupt(const std::string& why) { return Status(Code::kCorruption, "snapshot stream: " + why); }

}  // namespace

SnapshotReader::SnapshotReader(Source source, uint64_t record_bytes_max)
    : source_(std::move(source)), record_bytes_max_(record_bytes_max) {}

Status SnapshotReader::need(size_t n) {
  while (buffer_.size() - offset_ < n) {
    if (source_done_) return corrupt("ends early (truncated)");
    auto chunk = source_();
    if (!chunk.is_ok()) return chunk.status();
    if (chunk->empty()) {
      source_done_ = true;
      continue;
    }
    // Drop consumed bytes before growing, so the buffer holds about one record plus one chunk.
    buffer_.erase(0, offset_);
    offset_ = 0;
    buffer_.append(*chunk);
  }
  return Status::ok();
}

std::string_view SnapshotReader::take(size_t n) {
  std::string_view bytes = std::string_view(buffer_).substr(offset_, n);
  offset_ += n;
  crc_ = crc32c_extend(crc_, bytes);
  return bytes;
}

Status SnapshotReader::check_end() {
  if (Status s = need(8); !s.is_ok()) return s;
  uint64_t records = read_u64_be(take(8), 0);
  if (Status s = need(4); !s.is_ok()) return s;
  // The stored checksum is not part of what it covers: read it without take().
  uint32_t crc = read_u32_be(std::string_view(buffer_).substr(offset_, 4), 0);
  offset_ += 4;
  if (records != records_) {
    return corrupt("holds " + std::to_string(records_) + " records, its end says " + std::to_string(records));
  }
  if (crc != crc_) return corrupt("checksum mismatch");
  if (offset_ != buffer_.size()) return corrupt("bytes after the end");
  for (;;) {
    if (source_done_) return Status::ok();
    auto chunk = source_();
    if (!chunk.is_ok()) return chunk.status();
    if (!chunk->empty()) return corrupt("bytes after the end");
    source_done_ = true;
  }
}

Result<std::optional<SnapshotRecord>> SnapshotReader::next() {
  if (finished_) return std::optional<SnapshotRecord>();
  if (!started_) {
    if (Status s = need(kSnapshotMagic.size()); !s.is_ok()) return s;
    if (take(kSnapshotMagic.size()) != kSnapshotMagic) return corrupt("bad magic");
    started_ = true;
  }
  if (Status s = need(1); !s.is_ok()) return s;
  uint8_t table = static_cast<uint8_t>(take(1)[0]);
  if (table == kSnapshotEndTag) {
    if (Status s = check_end(); !s.is_ok()) return s;
    finished_ = true;
    return std::optional<SnapshotRecord>();
  }
  if (Status s = need(8); !s.is_ok()) return s;
  std::string_view lengths = take(8);
  uint64_t key_bytes = read_u32_be(lengths, 0);
  uint64_t value_bytes = read_u32_be(lengths, 4);
  if (key_bytes + value_bytes > record_bytes_max_) {
    return corrupt("record of " + std::to_string(key_bytes + value_bytes) + " bytes, limit " +
                   std::to_string(record_bytes_max_));
  }
  if (Status s = need(key_bytes + value_bytes); !s.is_ok()) return s;
  SnapshotRecord record;
  record.table = table;
  record.key = std::string(take(key_bytes));
  record.value = std::string(take(value_bytes));
  ++records_;
  return std::optional<SnapshotRecord>(std::move(record));
}

}  // namespace castor::kv
