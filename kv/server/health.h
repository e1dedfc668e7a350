// Health: the rule GET /health, `castorctl check` and castor_healthy share, and the one fact it
// needs watching over time (whether the leader's commit index is stuck).
//
// A node is healthy when it is not stopping, sees a leader, has applied close to its commit
// index, has storage room for writes (kv/server/storage_room.h) and, as leader, is not stuck
// with entries its followers do not take. Each check that fails names itself, with figures.
//
// What it does NOT do: measure anything (the server gathers HealthFacts on its io thread) or
// act on the verdict (the load balancer or operator does).
// Not thread-safe: one thread (the server's io thread) observes and asks.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "raft/ready.h"  // raft::Role

namespace castor::kv {

// A leader whose commit index has not moved for a while although entries wait: replication is
// stuck (a follower refuses what it is sent, say), however healthy everything else looks.
class CommitWatch {
 public:
  using Clock = std::chrono::steady_clock;

  // Every tick: `waiting` is whether this node leads with entries past its commit index.
  void observe(bool waiting, uint64_t commit, Clock::time_point now);
  // How long the commit index has stood still while entries waited, once that is longer than
  // `bound`; nullopt otherwise (also when the commit moved since the last observe()).
  std::optional<Clock::duration> stalled(bool waiting, uint64_t commit, Clock::time_point now,
                                         Clock::duration bound) const;

 private:
  uint64_t commit_ = 0;
  Clock::time_point moved_at_ = Clock::now();
};

// What the health rule looks at, gathered at one moment.
struct HealthFacts {
  bool stopping = false;
  uint64_t leader = 0;  // 0: none known
  raft::Role role = raft::Role::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t apply_lag_max = 0;  // entries applied may trail commit by less than this
  std::string storage_full;    // StorageRoom::full_reason(): "" while writes have room
  uint64_t last_index = 0;     // of the log, for the stalled message
  std::optional<std::chrono::steady_clock::duration> commit_stalled;  // CommitWatch::stalled()
};

// "" when healthy, else why not (the first failing check).
std::string unhealthy_reason(const HealthFacts& facts);

}  // namespace castor::kv
