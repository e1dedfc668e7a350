// How the durable log names what went wrong, so every refusal reads alike: where the log is,
// what failed, and what the operator does about it.
//
// What it does NOT do: decide whether a failure stops the node (LmdbLog's contract does) or
// log anything.
#pragma once

#include <filesystem>
#include <string>

#include "raft/base/status.h"

namespace castor::raft {

// What to do with a node whose log is damaged or gone.
inline constexpr char kRestoreAdvice[] =
    "restore this node from a peer: remove the data directory and rejoin";

struct LogErrors {
  std::filesystem::path data_dir;

  // kCorruption: "Raft log in <dir>: <what>; <restore advice>".
  Status corruption(const std::string& what) const;
  // kInternal: the LMDB operation `op` failed with `rc`, with advice for a full or failing disk.
  Status lmdb(const char* op, int rc) const;
};

}  // namespace castor::raft
