#include "kv/machine/snapshot_writer.h"

#include <utility>

#include "kv/machine/encoding.h"
#include "raft/base/assert.h"
#include "raft/base/crc32c.h"

namespace castor::kv {

SnapshotWriter::SnapshotWriter(uint64_t chunk_bytes, Sink sink)
    : chunk_bytes_(chunk_bytes), sink_(std::move(sink)) {
  CASTOR_ASSERT(chunk_bytes_ > 0, "snapshot chunk_bytes is 0");
  append(kSnapshotMagic);
}

void SnapshotWriter::append(std::string_view bytes) {
  crc_ = crc32c_extend(crc_, bytes);
  buffer_.append(bytes);
}

Status SnapshotWriter::flush(bool all) {
  size_t offset = 0;
  while (buffer_.size() - offset >= chunk_bytes_ || (all && offset < buffer_.size())) {
    size_t n = std::min<size_t>(chunk_bytes_, buffer_.size() - offset);
    if (Status s = sink_(std::string_view(buffer_).substr(offset, n)); !s.is_ok()) return s;
    offset += n;
    bytes_written_ += n;
  }
  buffer_.erase(0, offset);
  return Status::ok();
}

Status SnapshotWriter::add(uint8_t table, std::string_view key, std::string_view value) {
  CASTOR_ASSERT(table != kSnapshotEndTag, "snapshot table 0 is the end tag");
  CASTOR_ASSERT(key.size() <= UINT32_MAX, "snapshot record key over 4 GiB");
  CASTOR_ASSERT(value.size() <= UINT32_MAX, "snapshot record value over 4 GiB");
  std::string header(1, static_cast<char>(table));
  append_u32_be(header, static_cast<uint32_t>(key.size()));
  append_u32_be(header, static_cast<uint32_t>(value.size()));
  append(header);
  append(key);
  append(value);
  ++records_;
  return flush(false);
}

Status SnapshotWriter::finish() {
  std::string end(1, static_cast<char>(kSnapshotEndTag));
  append_u64_be(end, records_);
  append(end);
  std::string crc;
  append_u32_be(crc, crc_);
  buffer_.append(crc);
  return flush(true);
}

}  // namespace castor::kv
