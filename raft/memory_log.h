// MemoryLog: an in-memory durable log, the reference implementation of LogReader and of the
// host-side writes that LmdbLog also provides. Tests and the simulator use it; "durable" here
// means "survives a simulated crash", because the simulator keeps this object across restarts.
//
// What it does NOT do: outlive its process, or check a snapshot it installs (raft::Node checked the
// data against its crc32c before the Ready carried it).
// Performs no I/O. Not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/log_reader.h"

namespace castor::raft {

class MemoryLog : public LogReader {
 public:
  // A fresh log for a cluster bootstrapped with these voters.
  explicit MemoryLog(pb::ConfState bootstrap_conf);

  // --- LogReader ---
  pb::HardState hard_state() const override { return hard_state_; }
  pb::ConfState conf_state() const override { return snapshot_.meta().conf(); }
  LogIndex first_index() const override { return LogIndex(snapshot_.meta().index() + 1); }
  LogIndex last_index() const override;
  std::optional<Term> term(LogIndex i) const override;
  std::vector<pb::Entry> entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const override;
  pb::SnapshotMeta snapshot_meta() const override { return snapshot_.meta(); }
  std::string snapshot_chunk(uint64_t offset, uint64_t bytes_max) const override;

  // --- Writes, in the order a Ready asks for them ---
  // Persists the hard state (if given) and appends entries; entries[0] may start at or below
  // last_index(), in which case the old suffix from entries[0].index() on is replaced.
  void append(const std::optional<pb::HardState>& hs, const std::vector<pb::Entry>& entries);
  // Replaces the whole log with a snapshot received from the leader (Ready::snapshot).
  void install_snapshot(const pb::Snapshot& snapshot);
  // The host took a snapshot of its state machine at `meta.index` (<= the applied index):
  // keep it for InstallSnapshot and drop the log prefix it covers (log compaction, paper 7).
  // Sets meta.data_bytes and meta.data_crc32c.
  void save_snapshot(pb::SnapshotMeta meta, std::string data);

 private:
  pb::HardState hard_state_;
  pb::Snapshot snapshot_;
  std::vector<pb::Entry> entries_;  // entries_[k] has index snapshot index + 1 + k
};

}  // namespace castor::raft
