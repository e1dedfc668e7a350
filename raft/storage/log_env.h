// open_log_env: the LMDB environment of a Raft log directory, locked to this process.
//
// LMDB lets several processes share an environment; two castord processes writing one log
// would each believe their own votes. So the directory is flock()ed (log/castor.lock) before
// LMDB opens it; the flock also stops a second LmdbLog in this process, which LMDB forbids (its
// locks are per process). The environment's file is checked to hold every page its last commit
// counts (lmdb_file.h) before anything reads a page.
//
// What it does NOT do: open the log's databases or read a record (LmdbLog does).
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>

#include "raft/base/status.h"
#include "raft/storage/unique_fd.h"

namespace castor::raft {

struct LogEnv {
  MDB_env* env = nullptr;  // the caller closes it (mdb_env_close)
  UniqueFd lock_fd;        // held open to keep the flock
};

// kUnavailable when another process (or LmdbLog) holds `log_dir`; kCorruption when its file is
// shorter than its last commit; kInternal on an LMDB or I/O failure. With `unsafe_skip_fsync`
// commits are not fsynced (a planted bug, LmdbLog::Options).
Result<LogEnv> open_log_env(const std::filesystem::path& log_dir, uint64_t map_bytes, bool unsafe_skip_fsync);

}  // namespace castor::raft
