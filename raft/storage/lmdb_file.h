// Checks on an LMDB environment's file that LMDB itself does not make.
//
// LMDB reads its pages through a memory map. A page beyond the end of the file is not an error
// code but a SIGBUS that kills the process: a data.mdb shorter than its own newest meta page
// says (a power cut that dropped writes never fsynced, a truncated copy, a full disk's short
// write) would crash castord at start instead of naming the damage.
//
// What it does NOT do: verify the B-trees' contents (LMDB has no page checksums) or repair.
#pragma once

#include <lmdb.h>

#include <string>

#include "raft/base/status.h"

namespace castor::raft {

// OK when the file of `env` (just opened, before the first transaction) holds every page its
// newest meta page counts; else kCorruption naming the file, both sizes and `advice`.
Status check_lmdb_file_complete(MDB_env* env, const std::string& advice);

}  // namespace castor::raft
