// Config: the knobs of one Raft node. Times are in ticks; the host decides how long a tick is.
//
// What it does NOT do: set how long a tick is (the host's timer does), or check the knobs: raft::Node
// asserts only a non-zero id and 0 < heartbeat interval < election timeout.
#pragma once

#include <cstdint>

#include "raft/types.h"

namespace castor::raft {

// Test-only: plants a known bug so that tests can show the simulator catches it. Always kNone
// outside tests/sim.
enum class PlantedBug {
  kNone,
  kCommitOldTermByCounting,  // breaks paper 5.4.2 (figure 8)
  kVoteBeforePersist,        // sends a vote grant before the vote is durable
  kReadWithoutHeartbeat,     // releases ReadIndex reads without confirming leadership (thesis 6.4)
  kKeepConflictingSuffix,    // replaces a conflicting entry but keeps the entries after it (paper 5.3)
  // Counts any heartbeat reply as confirming the latest read round, though only replies to that
  // round's own heartbeat show leadership after its reads arrived (thesis 6.4).
  kAnyHeartbeatReplyConfirmsRead,
};

struct Config {
  NodeId id;
  // A follower that hears from no leader for a random time in [t, 2t) starts an election
  // (paper 5.2). A leader that has not heard from a majority within t steps down (thesis 6.2).
  uint32_t election_timeout_ticks = 10;
  uint32_t heartbeat_interval_ticks = 1;
  uint64_t random_seed = 0;
  bool pre_vote = true;      // thesis 9.6
  bool check_quorum = true;  // thesis 6.2; also enables leader stickiness (thesis 4.2.3)
  // Bounds on what one append message and one Ready carry, and on pipelining.
  uint64_t append_bytes_max = 1 << 20;
  uint32_t inflight_appends_max = 256;
  uint64_t apply_bytes_max = 4 << 20;
  uint64_t snapshot_chunk_bytes_max = 1 << 20;
  // Proposals are dropped (Code::kDropped) while this many entries are uncommitted.
  uint64_t uncommitted_entries_max = 10000;
  // A proposal larger than this is refused (Code::kTooLarge): every entry must fit in one
  // message to the followers (the host's frame limit), or it could never be replicated.
  uint64_t entry_bytes_max = UINT64_MAX;
  PlantedBug planted_bug = PlantedBug::kNone;
};

}  // namespace castor::raft
