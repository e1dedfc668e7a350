// History: the recent changes to the key space, by revision, for watches (docs/DESIGN.md,
// "Watch").
//
// Each write that takes a revision appends its events (KeySpace's Changes: one per key it
// changed, in the order it changed them) within the state machine's apply transaction, so the
// history and the state never disagree, across crashes too. History is this node's own: not in
// snapshots, not replicated. It holds every event with a revision in (floor, through], where
// `through` is the store revision; below the floor it is gone:
//   - trimmed: the oldest revisions go once more than `revisions_max` revisions or more than
//     `bytes_max` bytes of records are kept (castord's --watch-history-* flags);
//   - replaced: a snapshot installed from the leader replaces the state, and the history
//     starts again at the snapshot's revision;
//   - unknown: state written without history (by an older Castor, say: its records do not end
//     at the store revision) keeps no history before the revision it was opened at.
// A watch that starts below the floor is refused (COMPACTED), never served with a gap.
//
// What it does NOT do: choose revisions (the state machine does), filter by key, or deliver
// events (kv/server/watch_hub.h). Threading: as the state machine: writes in its apply
// transaction, reads in any read transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/machine/lmdb_txn.h"
#include "raft/base/status.h"

namespace castor::kv {

struct HistoryOptions {
  // Enough for a control plane's writes of days, and to resume any watcher that was away for
  // a restart; a record is its event (the key's old and new state) and 12 bytes of key.
  uint64_t revisions_max = 100'000;
  uint64_t bytes_max = uint64_t{256} << 20;
};

// Events read from the history: every event with a revision in (after, through], ascending.
// A page ends at a revision's end, so a revision's events are never split between pages.
// When `after` is below the floor the page is `compacted` and holds nothing.
struct HistoryPage {
  std::vector<pb::Event> events;
  uint64_t through = 0;
  uint64_t floor = 0;  // at the time of the read: a later read may start above it
  bool compacted = false;
};

class History {
 public:
  History(MDB_dbi records, MDB_dbi meta, HistoryOptions options)
      : records_(records), meta_(meta), options_(options) {}

  // At open, with the store at `revision`: starts the history there unless it ends there.
  Status open(LmdbTxn& txn, uint64_t revision);
  // Writing, within one write transaction: begin() reads where the history stands, append()
  // adds the events of one write, which took `revision` (above every revision appended), and
  // settle() records that the history is complete through `revision` (the store revision) and
  // trims it. A transaction that is dropped before its commit needs a new begin().
  Status begin(LmdbTxn& txn);
  Status append(LmdbTxn& txn, uint64_t revision, const std::vector<pb::Event>& events);
  Status settle(LmdbTxn& txn, uint64_t revision);
  // Drops everything: the state was replaced by a snapshot at `revision`.
  Status reset(LmdbTxn& txn, uint64_t revision);

  // The events after `after`, at least one revision's (when there is one) and otherwise no
  // more than `page_bytes_max` of records; a `compacted` page when `after` is below the floor.
  Result<HistoryPage> read(LmdbTxn& txn, uint64_t after, uint64_t page_bytes_max) const;

  // Where the history stands: events in (floor, through] are kept, in `bytes` of records.
  struct Marks {
    uint64_t floor = 0;
    uint64_t through = 0;
    uint64_t bytes = 0;
  };
  Result<Marks> marks(LmdbTxn& txn) const;

 private:
  Status trim(LmdbTxn& txn);
  Status store(LmdbTxn& txn) const;

  MDB_dbi records_;  // (revision, position in it) as 8 + 4 big-endian bytes -> pb::Event
  MDB_dbi meta_;     // the marks
  HistoryOptions options_;
  Marks writing_;  // the write transaction's marks, between begin() and its commit
};

}  // namespace castor::kv
