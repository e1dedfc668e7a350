// Progress: what the leader knows of one follower's log, and how it replicates to it.
//
//   kProbe:     the follower's match point is unknown; send one append at a time and wait
//               for its answer (or the next heartbeat) before sending another.
//   kReplicate: the follower is in sync; stream appends optimistically, with at most
//               inflight_appends_max unacknowledged messages (pipelining, thesis 10.2.1).
//   kSnapshot:  the entries it needs are compacted; stream a snapshot in chunks, one chunk in
//               flight; its acknowledgement of the whole snapshot moves it to kReplicate.
//
// What it does NOT do: build or send messages, or read the log: Node decides what to send and
// reports it through sent_append(); Progress only keeps the books.
// Performs no I/O. Not thread-safe; owned by its Node.
#pragma once

#include <cstdint>
#include <deque>

#include "raft/types.h"

namespace castor::raft {

class Progress {
 public:
  enum class State { kProbe, kReplicate, kSnapshot };

  Progress(LogIndex next, uint32_t inflight_appends_max) : next(next), inflight_max_(inflight_appends_max) {}

  LogIndex match;
  LogIndex next;
  State state = State::kProbe;
  // kProbe: an append was sent and not yet answered.
  bool probe_sent = false;
  // Heard from since the last check-quorum round (thesis 6.2).
  bool recent_active = false;
  // The highest read round (ReadIndex, thesis 6.4) this follower has acknowledged.
  uint64_t read_round_acked = 0;
  // kSnapshot: the snapshot being sent (its index and term) and the bytes acknowledged so far.
  LogIndex snapshot_index;
  Term snapshot_term;
  uint64_t snapshot_offset = 0;
  // snapshot_offset when the follower last answered a heartbeat: unchanged means stalled.
  uint64_t snapshot_offset_at_heartbeat = UINT64_MAX;

  void become_probe();
  void become_replicate();
  void become_snapshot(LogIndex index, Term term);

  // The follower acknowledged entries up to n. Returns whether that told us anything new.
  bool maybe_update(LogIndex n);
  // The follower rejected an append at `rejected`; `hint` is where the leader should retry
  // (computed from the follower's conflict hint). Returns false for a stale rejection.
  bool maybe_decrease_to(LogIndex rejected, LogIndex hint);
  // The follower no longer holds what it acknowledged (its disk was replaced and it restarted
  // empty under the same id): its log ends at `last`. Probe from there; entries the leader has
  // compacted go by snapshot. Committed entries stay committed: the quorum that counted this
  // follower was real when it counted.
  void lost_entries(LogIndex last);
  // Bookkeeping after an append carrying entries up to `last` was sent.
  void sent_append(LogIndex last, bool had_entries);

  // kReplicate: an append may have been lost (its ack never comes). Frees the oldest window
  // slot so that one more append goes out; a gap it reveals turns into a rejection and a probe.
  void free_first_inflight();

  // Whether sending more must wait (probe outstanding, window full, or snapshot in flight).
  bool is_paused() const;

 private:
  uint32_t inflight_max_;
  std::deque<LogIndex> inflight_;  // last index of each unacknowledged append, ascending
};

}  // namespace castor::raft
