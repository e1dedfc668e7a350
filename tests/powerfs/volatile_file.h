// VolatileFile: what a page cache holds of one file and the disk does not yet: the writes and
// truncates made since the file's last fsync, in order.
//
// The file's durable bytes live in a backing file; a VolatileFile lays its pending changes over
// them for reads, writes them through on fsync (flush_to), and forgets them on a power cut. Kept
// as the list of changes rather than a merged image: Castor fsyncs after every commit, so the
// list stays short, and replaying it is obviously what a page cache shows.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace castor::powerfs {

class VolatileFile {
 public:
  void write(uint64_t offset, std::string_view data);
  void truncate(uint64_t size);

  // The file's size as reads see it, over a backing file of `backing_size` bytes.
  uint64_t size(uint64_t backing_size) const;
  // Lays the pending changes over `window`, which holds the backing file's bytes from `offset`
  // (zero-padded to the length asked for), and trims it to the file's size as reads see it.
  void overlay(uint64_t offset, uint64_t backing_size, std::string& window) const;

  // Applies every change to `fd` (pwrite, ftruncate); the caller fsyncs. 0 or -errno.
  int flush_to(int fd) const;
  // A torn cut: applies to `fd` only the first `sectors` 512-byte sectors of the last write (a
  // disk that lost power while writing it), nothing else. 0 or -errno.
  int flush_torn_to(int fd, uint64_t sectors) const;
  // The number of 512-byte sectors the last write touches (0 when the last change is no write).
  uint64_t last_write_sectors() const;

 private:
  struct Change {
    uint64_t offset;   // a write's offset, or a truncate's new size
    std::string data;  // a write's bytes
    bool is_truncate;
  };
  std::vector<Change> changes_;
};

}  // namespace castor::powerfs
