#include "tests/powerfs/volatile_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace castor::powerfs {
namespace {

constexpr uint64_t kSector = 512;

int pwrite_all(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return 0;
}

}  // namespace

void VolatileFile::write(uint64_t offset, std::string_view data) {
  changes_.push_back(Change{offset, std::string(data), false});
}

void VolatileFile::truncate(uint64_t size) { changes_.push_back(Change{size, "", true}); }

uint64_t VolatileFile::size(uint64_t backing_size) const {
  uint64_t size = backing_size;
  for (const Change& c : changes_) size = c.is_truncate ? c.offset : std::max(size, c.offset + c.data.size());
  return size;
}

void VolatileFile::overlay(uint64_t offset, uint64_t backing_size, std::string& window) const {
  const uint64_t end = offset + window.size();
  for (const Change& c : changes_) {
    if (c.is_truncate) {
      // Bytes cut off read as zeros should a later write extend the file again.
      if (c.offset < end) {
        const uint64_t from = std::max(c.offset, offset);
        std::fill(window.begin() + static_cast<std::ptrdiff_t>(from - offset), window.end(), '\0');
      }
      continue;
    }
    const uint64_t lo = std::max(offset, c.offset);
    const uint64_t hi = std::min(end, c.offset + c.data.size());
    if (lo < hi) window.replace(lo - offset, hi - lo, c.data, lo - c.offset, hi - lo);
  }
  const uint64_t visible = size(backing_size);
  window.resize(visible > offset ? std::min<uint64_t>(window.size(), visible - offset) : 0);
}

int VolatileFile::flush_to(int fd) const {
  for (const Change& c : changes_) {
    if (c.is_truncate) {
      if (::ftruncate(fd, static_cast<off_t>(c.offset)) != 0) return -errno;
    } else if (int rc = pwrite_all(fd, c.data, c.offset); rc != 0) {
      return rc;
    }
  }
  return 0;
}

uint64_t VolatileFile::last_write_sectors() const {
  if (changes_.empty() || changes_.back().is_truncate) return 0;
  const Change& w = changes_.back();
  if (w.data.empty()) return 0;
  return (w.offset + w.data.size() - 1) / kSector - w.offset / kSector + 1;
}

int VolatileFile::flush_torn_to(int fd, uint64_t sectors) const {
  if (sectors == 0 || last_write_sectors() == 0) return 0;
  const Change& w = changes_.back();
  // The write's first `sectors` sectors, counted from the sector holding its first byte.
  const uint64_t cut = (w.offset / kSector + sectors) * kSector;
  const uint64_t keep = std::min<uint64_t>(w.data.size(), cut - w.offset);
  return pwrite_all(fd, std::string_view(w.data).substr(0, keep), w.offset);
}

}  // namespace castor::powerfs
