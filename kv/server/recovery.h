// Start-up recovery: brings a node's state machine in line with its durable Raft log before
// the node serves, for castord (kv::Server) and the storage crash test alike.
//
// What it does NOT do: repair a log that lost acknowledged entries (it refuses to start, with
// what to do in the message) or replay committed entries itself (the Raft core hands them out).
#pragma once

#include <filesystem>

#include "kv/machine/state_machine.h"
#include "raft/base/status.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

// The state machine may lag the log (it is synced lazily, MDB_NOMETASYNC) but must reach the
// log's snapshot, which is all that remains of the entries before it: a state behind it is
// restored from the snapshot. A state ahead of the log's last index means the log lost
// acknowledged entries: CORRUPTION, saying what to do. (Ahead of the stored commit index is
// fine: that index is written lazily, and only durable entries are ever applied.) Entries in
// (snapshot, commit] are left for the Raft core to hand out again; applying them twice is a no-op.
Status reconcile(const raft::LmdbLog& log, StateMachine& state, const std::filesystem::path& data_dir);

}  // namespace castor::kv
