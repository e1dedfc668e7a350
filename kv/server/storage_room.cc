#include "kv/server/storage_room.h"

namespace castor::kv {

StorageRoom::StorageRoom(const raft::LmdbLog& log, const std::filesystem::path& data_dir,
                         uint64_t disk_reserve_bytes)
    : log_(log), log_file_(data_dir / "log" / "data.mdb"), disk_(data_dir, disk_reserve_bytes) {}

bool StorageRoom::log_nearly_full() const { return log_.used_bytes() >= log_.map_bytes_max() / 8 * 7; }

std::string StorageRoom::full_reason() const {
  if (log_nearly_full()) {
    return "the Raft log holds " + std::to_string(log_.used_bytes()) + " of its " +
           std::to_string(log_.map_bytes_max()) +
           " bytes (--log-map-bytes-max): writes are refused until a snapshot compacts it; reads are served";
  }
  return disk_.low() ? disk_.message() : "";
}

uint64_t StorageRoom::log_file_bytes() const {
  std::error_code ec;
  const auto n = std::filesystem::file_size(log_file_, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

}  // namespace castor::kv
