// SnapshotFiles: the directory of snapshot data files behind one LmdbLog,
// <data_dir>/snapshot/snap-<index, 20 digits>-<crc32c, 8 hex digits>.bin.
//
// The checksum is part of the name so that a new snapshot never overwrites the file the log
// currently points at, even when both are at the same index (a snapshot re-taken at an
// unchanged applied index, or one installed from the leader). Without it this could happen:
//   1. the log's meta record points at snap-<i>.bin holding bytes A;
//   2. save_snapshot at index i writes bytes B over snap-<i>.bin (rename);
//   3. the process dies before the LMDB transaction recording B's checksum commits;
//   4. on restart the meta record expects A, finds B, and the node refuses to start.
// With content-addressed names step 2 writes a second file and step 4 finds A intact.
//
// What it does NOT do: retry a failed write, or clean up after one: the .tmp file it may leave
// stays until remove_all_except().
//
// Only writes files and reads them to verify; which file is current lives in LMDB and is
// LmdbLog's business. Stateless apart from the directory path: safe from any thread, but two
// threads must not write the same (index, crc) at once (LmdbLog has a single writer).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "raft/base/status.h"
#include "raft/storage/durable_dir.h"
#include "raft/storage/unique_fd.h"

namespace castor::raft {

class SnapshotFiles {
 public:
  explicit SnapshotFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

  static std::string file_name(uint64_t index, uint32_t crc);
  const std::filesystem::path& dir() const { return dir_; }

  // Writes `data` durably as the file for (index, crc): a temporary file, fsync, rename into
  // place, fsync the directory. Once this returns OK the file survives a power loss.
  Status write(uint64_t index, uint32_t crc, std::string_view data) const;
  // Opens the file for (index, crc) and checks that it holds exactly `bytes` bytes whose
  // checksum is `crc`; kCorruption otherwise.
  Result<UniqueFd> open_verified(uint64_t index, uint64_t bytes, uint32_t crc) const;
  // Deletes every file in the directory except `keep` (a file_name(), or "" to keep none):
  // snapshots the log no longer points at and temporaries left by an interrupted write.
  Status remove_all_except(const std::string& keep) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace castor::raft
