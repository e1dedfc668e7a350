#include "kv/server/disk_space.h"

#include <sys/statvfs.h>

#include <utility>

namespace castor::kv {

DiskSpace::DiskSpace(std::filesystem::path dir, uint64_t reserve_bytes)
    : dir_(std::move(dir)), reserve_bytes_(reserve_bytes) {}

void DiskSpace::refresh(std::chrono::steady_clock::time_point now,
                        std::chrono::steady_clock::duration every) {
  if (reserve_bytes_ == 0 || (free_bytes_ && now - measured_at_ < every)) return;
  measured_at_ = now;
  struct statvfs st {};
  // Space an unprivileged writer may use: castord often runs as root, but the reserve the file
  // system keeps for root is not Castor's to spend.
  if (::statvfs(dir_.c_str(), &st) == 0) free_bytes_ = uint64_t{st.f_bavail} * st.f_frsize;
}

bool DiskSpace::low() const { return free_bytes_ && *free_bytes_ < reserve_bytes_; }

std::string DiskSpace::message() const {
  return "the disk holding " + dir_.string() + " has " + std::to_string(free_bytes_.value_or(0)) +
         " bytes free, below the " + std::to_string(reserve_bytes_) +
         " bytes kept in reserve (--disk-reserve-bytes): writes are refused until space is freed; reads are "
         "served";
}

}  // namespace castor::kv
