// RaftLog: the log as the core sees it. A durable part it reads through LogReader (written by
// the host) and an unstable tail it holds in memory until the host says it is durable.
//
//   [snapshot] [ durable entries ........ ]
//                            [ unstable entries ....... ]
//                            ^ unstable_offset_ (may sit below LogReader::last_index() when
//                              a conflicting suffix is being replaced, paper 5.3)
//
// Also tracks the commit index and the applied index (the last entry handed out for apply).
//
// What it does NOT do: write the durable part (the host persists Ready::entries into its LogReader)
// or decide what commits (Node does, and calls commit_to).
// Performs no I/O itself. Not thread-safe; owned by its Node.
#pragma once

#include <optional>
#include <vector>

#include "raft/log_reader.h"
#include "raft/types.h"

namespace castor::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogReader& durable);

  LogIndex first_index() const;
  LogIndex last_index() const;
  Term last_term() const { return *term(last_index()); }
  // nullopt when i is compacted away or beyond the last index.
  std::optional<Term> term(LogIndex i) const;
  bool match_term(LogIndex i, Term t) const { return term(i) == t; }
  // Paper 5.4.1: a candidate's log is at least as up-to-date as ours.
  bool is_up_to_date(LogIndex last, Term last_t) const;

  // Entries in [lo, hi) from the durable part and the unstable tail, at most bytes_max of data
  // (at least one entry). nullopt if lo has been compacted.
  std::optional<std::vector<pb::Entry>> entries(LogIndex lo, LogIndex hi, uint64_t bytes_max) const;

  // Appends entries whose first index is at most last_index() + 1; a suffix from that index
  // on is replaced. The caller has checked that nothing committed is replaced.
  void truncate_and_append(const std::vector<pb::Entry>& entries);
  // Paper 5.3: the first entry in `entries` whose index is new or whose term differs from ours;
  // nullopt when every one of them is already in the log.
  std::optional<LogIndex> find_conflict(const std::vector<pb::Entry>& entries) const;
  // The follower's hint for a rejected append at (index, term): the last index <= index whose
  // term is <= term, so the leader can skip a whole conflicting term at once.
  LogIndex find_conflict_by_term(LogIndex index, Term term) const;

  LogIndex committed() const { return committed_; }
  void commit_to(LogIndex i);
  LogIndex applied() const { return applied_; }
  void applied_to(LogIndex i);

  // The last index that is durable: the host has persisted every entry up to here.
  LogIndex stable_last() const;
  // Unstable entries to persist (the Ready's `entries`).
  const std::vector<pb::Entry>& unstable_entries() const { return unstable_; }
  // The host persisted entries up to (i, t): drop them from the unstable tail, unless the tail
  // has been rewritten since (the term no longer matches).
  void stable_to(LogIndex i, Term t);

  // A snapshot received from the leader replaces the whole log; it stays pending (unstable)
  // until the host has installed it.
  void restore(const pb::SnapshotMeta& meta);
  const std::optional<pb::SnapshotMeta>& pending_snapshot() const { return pending_snapshot_; }
  void snapshot_installed(LogIndex i);

  // Committed, durable entries not yet handed out for apply: (applied, min(commit, stable)].
  std::vector<pb::Entry> next_committed(uint64_t bytes_max) const;
  bool has_next_committed() const;

 private:
  const LogReader& durable_;
  std::vector<pb::Entry> unstable_;
  LogIndex unstable_offset_;  // index of unstable_[0]
  std::optional<pb::SnapshotMeta> pending_snapshot_;
  LogIndex committed_;
  LogIndex applied_;
};

}  // namespace castor::raft
