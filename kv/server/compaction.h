// Compaction: when a node snapshots its state machine, and when the log may drop the entries
// the snapshot covers (paper section 7).
//
// A snapshot is due every `every_entries` applied entries, and at once when the log's map is
// nearly full (kv/server/storage_room.h) with anything applied since the last one. One is
// taken at a time (on the apply thread; the server runs it), and none while the last one waits
// to be compacted. The log then drops the covered
// entries only once the Raft core has handed all of them out (its applied index reached the
// snapshot's): after a restart the state machine can be ahead of the core, and the core must
// never ask the log for entries that are gone. The server calls compact() between Readies,
// with no log write in flight, because the log has one writer at a time.
//
// What it does NOT do: take the snapshot (StateMachine::snapshot) or send one to a follower
// (the core reads the log's snapshot for that).
// Not thread-safe: the server's io thread owns it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "kv/machine/state_machine.h"
#include "raft/storage/lmdb_log.h"

namespace castor::kv {

class Compaction {
 public:
  // `snapshot_index`: where the log starts now (its snapshot's index; 0 for none).
  Compaction(uint64_t every_entries, raft::LogIndex snapshot_index)
      : every_entries_(every_entries), snapshot_index_(snapshot_index) {}

  // A snapshot should be taken now (and none is being taken or waits); the caller then takes
  // it and calls taken() or abandoned().
  bool due(raft::LogIndex applied, bool log_nearly_full) const;
  void started() { taking_ = true; }
  // The state machine's snapshot, to be compacted into the log by compact().
  void taken(SnapshotInfo info, std::string data);
  void abandoned() { taking_ = false; }

  // Saves the waiting snapshot into `log`, dropping the entries it covers, once `core_applied`
  // reached it. Returns whether it compacted; an error from the log stops the node.
  Result<bool> compact(raft::LogIndex core_applied, raft::LmdbLog& log);
  // A leader's snapshot was installed: the log starts after `index` now.
  void installed(raft::LogIndex index) { snapshot_index_ = std::max(snapshot_index_, index); }

  // The index of the snapshot the log starts after.
  raft::LogIndex snapshot_index() const { return snapshot_index_; }

 private:
  const uint64_t every_entries_;
  raft::LogIndex snapshot_index_;
  bool taking_ = false;
  std::optional<std::pair<SnapshotInfo, std::string>> waiting_;
};

}  // namespace castor::kv
