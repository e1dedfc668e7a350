// DiskSpace: whether the file system that holds a node's data directory still has its reserve.
//
// A log or state machine write that meets a full disk (ENOSPC) stops the node: LMDB cannot be
// trusted to carry on after a failed commit. So a node keeps a reserve: once the free space
// falls below it, a leader refuses new writes (RESOURCE_EXHAUSTED, with message()) and a
// follower takes no more entries or snapshots (the others replicate without it), while reads
// go on; both resume on their own once space is freed. The reserve must cover what is already
// proposed or in flight, and a snapshot.
//
// What it does NOT do: refuse anything itself (StorageRoom and PeerIntake ask low()), free space,
// or measure on its own: only refresh() calls statvfs.
// Not thread-safe: one thread (the server's io thread) refreshes and asks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace castor::kv {

class DiskSpace {
 public:
  // `reserve_bytes` 0 turns the check off.
  DiskSpace(std::filesystem::path dir, uint64_t reserve_bytes);

  // Measures again (statvfs), at most once per `every`; a failed measurement keeps the last.
  void refresh(std::chrono::steady_clock::time_point now,
               std::chrono::steady_clock::duration every = std::chrono::milliseconds(200));
  // Free space, as measured last, is below the reserve.
  bool low() const;
  // Why writes are refused while low(): the directory, what is free, the reserve.
  std::string message() const;

 private:
  std::filesystem::path dir_;
  uint64_t reserve_bytes_;
  std::optional<uint64_t> free_bytes_;  // none until measured
  std::chrono::steady_clock::time_point measured_at_{};
};

}  // namespace castor::kv
