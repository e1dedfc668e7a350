// StorageRoom: whether a node's storage takes new writes now, and why not.
//
// Two things fill up. The Raft log's LMDB map: a log write that finds it at its maximum stops
// the node (raft/storage/lmdb_log.h), so at 7/8 of it the node refuses new writes
// (RESOURCE_EXHAUSTED) and snapshots at once to compact the log; the eighth left covers what is
// already proposed and in flight. And the disk below its reserve (kv/server/disk_space.h),
// which nothing but the operator frees. Reads go on either way; writes resume on their own once
// there is room again.
//
// What it does NOT do: refuse anything (the server asks it before taking a write) or compact.
// Not thread-safe: one thread (the server's io thread) refreshes and asks; the log's usage it
// reads is an atomic the log thread keeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "kv/server/disk_space.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

class StorageRoom {
 public:
  // `log` must outlive this object; `data_dir` holds the log (its file is data_dir/log/data.mdb).
  StorageRoom(const raft::LmdbLog& log, const std::filesystem::path& data_dir, uint64_t disk_reserve_bytes);

  // Measures the disk again, at most every 200 ms (DiskSpace::refresh).
  void refresh(std::chrono::steady_clock::time_point now) { disk_.refresh(now); }
  // The log's map holds 7/8 of its maximum or more: time to snapshot, and to refuse writes.
  bool log_nearly_full() const;
  // The disk and its reserve: while low(), a follower takes no more entries or snapshots.
  const DiskSpace& disk() const { return disk_; }
  // "" while new writes have room; else why not, for the refusal and GET /health.
  std::string full_reason() const;
  // The size of the log's file on disk (0 if it cannot be read), for status and metrics.
  uint64_t log_file_bytes() const;

 private:
  const raft::LmdbLog& log_;
  std::filesystem::path log_file_;
  DiskSpace disk_;
};

}  // namespace castor::kv
