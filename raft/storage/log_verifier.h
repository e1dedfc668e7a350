// verify_log: what LmdbLog::open checks before a node may vote or acknowledge from its log.
//
// It reads the format version, the hard state and the snapshot record (each against its
// checksum), then every entry: contiguous from the snapshot's index on, each checksummed, terms
// never decreasing. A node that votes or acknowledges from a damaged log can break Raft's
// safety for the whole cluster, so any doubt is kCorruption naming the record.
//
// What it does NOT do: check the snapshot file (LmdbLog opens it, through SnapshotFiles), the
// hard state's commit against the entries (LmdbLog does, with both in hand), or change
// anything: the transaction may be read-only.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <vector>

#include "raft/base/status.h"
#include "raft/raft.pb.h"
#include "raft/storage/log_errors.h"
#include "raft/types.h"

namespace castor::raft {

// Where each run of equal terms starts; the term of index i is that of the last run starting at
// or before i.
struct TermRun {
  LogIndex first;
  Term term;
};

// What a log holds, as its readers see it (without the snapshot's data).
struct LogContents {
  pb::HardState hard_state;
  pb::SnapshotMeta snapshot;
  uint32_t snapshot_crc = 0;
  LogIndex last;
  std::vector<TermRun> runs;  // cover (snapshot index, last]
};

// Reads and checks the meta records (in `meta`) and every entry (in `entries`) of `txn`.
Result<LogContents> verify_log(MDB_txn* txn, MDB_dbi entries, MDB_dbi meta, const LogErrors& errors);

}  // namespace castor::raft
