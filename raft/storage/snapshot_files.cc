#include "raft/storage/snapshot_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "raft/base/crc32c.h"

namespace castor::raft {
namespace {

// ENOSPC and EDQUOT are the expected "disk full" outcomes; anything else is an I/O failure.
Status io_error(const std::string& what, const std::filesystem::path& path, int err) {
  const Code code = (err == ENOSPC || err == EDQUOT) ? Code::kResourceExhausted : Code::kInternal;
  return Status(code, what + " " + path.string() + ": " + std::strerror(err));
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write", path, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

}  // namespace

std::string SnapshotFiles::file_name(uint64_t index, uint32_t crc) {
  char name[64];
  std::snprintf(name, sizeof name, "snap-%020" PRIu64 "-%08" PRIx32 ".bin", index, crc);
  return name;
}

Status SnapshotFiles::write(uint64_t index, uint32_t crc, std::string_view data) const {
  const std::filesystem::path final_path = dir_ / file_name(index, crc);
  std::filesystem::path tmp_path = final_path;
  tmp_path += ".tmp";
  {
    UniqueFd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return io_error("create", tmp_path, errno);
    if (Status s = write_all(fd.get(), data, tmp_path); !s.is_ok()) return s;
    if (::fsync(fd.get()) != 0) return io_error("fsync", tmp_path, errno);
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) return io_error("rename to", final_path, errno);
  return fsync_dir(dir_);
}

Result<UniqueFd> SnapshotFiles::open_verified(uint64_t index, uint64_t bytes, uint32_t crc) const {
  const std::filesystem::path path = dir_ / file_name(index, crc);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Status(Code::kCorruption,
                  "snapshot file " + path.string() + " cannot be opened: " + std::strerror(errno));
  }
  std::string buf(1 << 20, '\0');
  uint64_t total = 0;
  uint32_t got = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("read", path, errno);
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    got = crc32c_extend(got, std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  if (total != bytes || got != crc) {
    char detail[160];
    std::snprintf(detail, sizeof detail,
                  " holds %" PRIu64 " bytes with crc32c %08" PRIx32 ", the log expects %" PRIu64
                  " bytes with %08" PRIx32,
                  total, got, bytes, crc);
    return Status(Code::kCorruption, "snapshot file " + path.string() + detail);
  }
  return fd;
}

Status SnapshotFiles::remove_all_except(const std::string& keep) const {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::filesystem::path path = it->path();
    if (path.filename() == keep) continue;
    if (!std::filesystem::remove(path, ec) && ec) return io_error("remove", path, ec.value());
  }
  if (ec) return io_error("list", dir_, ec.value());
  return Status::ok();
}

}  // namespace castor::raft
