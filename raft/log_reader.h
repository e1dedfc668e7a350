// LogReader: the durable log as the Raft core may read it. The host (MemoryLog in tests,
// LmdbLog in castord) implements it and also owns all writes; the core never writes.
//
// Contract: the log holds a snapshot prefix (everything up to snapshot_meta().index, compacted)
// followed by entries in [first_index(), last_index()]. An empty log after a snapshot at s has
// first_index() == s + 1 and last_index() == s. A storage failure (I/O, corruption) is not
// reported here: the implementation stops the node (docs/STYLE.md, "Fail-stop").
//
// What it does NOT do: write (the host calls each implementation's own append, install_snapshot and
// save_snapshot, as a Ready asks), or promise thread safety: each implementation states its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::raft {

class LogReader {
 public:
  virtual ~LogReader() = default;

  virtual pb::HardState hard_state() const = 0;
  // The cluster's voters as of the snapshot (the bootstrap configuration before the first).
  virtual pb::ConfState conf_state() const = 0;

  virtual LogIndex first_index() const = 0;
  virtual LogIndex last_index() const = 0;
  // The term of entry i for i in [snapshot index, last_index()]; nullopt outside that range.
  virtual std::optional<Term> term(LogIndex i) const = 0;
  // Entries in [lo, hi), lo >= first_index(), hi <= last_index() + 1. Stops once the total
  // size of data passes bytes_max, but always returns at least one entry when lo < hi.
  virtual std::vector<pb::Entry> entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const = 0;

  virtual pb::SnapshotMeta snapshot_meta() const = 0;
  // Up to bytes_max bytes of the current snapshot's data starting at offset, for
  // InstallSnapshot. Empty when offset is at or past the end.
  virtual std::string snapshot_chunk(uint64_t offset, uint64_t bytes_max) const = 0;
};

}  // namespace castor::raft
