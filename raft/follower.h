// Follower: a node's side of replication: how it takes its leader's appends (paper 5.3),
// heartbeats and snapshot chunks (paper 7). Each call checks what the leader sent against the
// log, writes what it carries into the log's unstable tail, moves the commit index, and returns
// the answer for the leader.
//
// Node calls it for each MSG_APP, MSG_HEARTBEAT and MSG_SNAP it accepts from the leader of its
// term, in arrival order, and sends each answer as it is returned (after the persist step, so it
// acknowledges only what is durable: docs/DESIGN.md, "The Ready contract"). It lives as long as
// its Node, not one role: a snapshot stream half received goes on under a leader of a later term
// that sends the same snapshot.
//
// What it does NOT do: send, decide who leads or keep the election clock (Node does), install a
// snapshot (the host does, from the Ready), or change the voters (Node does, from the snapshot it
// hands back). Performs no I/O. Not thread-safe; owned by its Node.
#pragma once

#include <cstdint>
#include <optional>

#include "raft/config.h"
#include "raft/log.h"
#include "raft/raft.pb.h"
#include "raft/snapshot_receiver.h"

namespace castor::raft {

class Follower {
 public:
  // `log` must outlive the Follower.
  Follower(PlantedBug planted_bug, RaftLog& log) : planted_bug_(planted_bug), log_(log) {}

  // The answers to a MSG_APP and a MSG_HEARTBEAT.
  pb::Message append(const pb::Message& m);
  pb::Message heartbeat(const pb::Message& m);
  // The answer to a MSG_SNAP. When the chunk completes a snapshot whose last entry the log does
  // not hold, the log is restored to it and the snapshot is put in `install`, for the host.
  pb::Message snapshot_chunk(const pb::Message& m, std::optional<pb::Snapshot>& install);

  // Snapshot streams received whole whose data failed its checksum, and were asked for again.
  uint64_t snapshots_refused() const { return receiver_.refused(); }

 private:
  PlantedBug planted_bug_;
  RaftLog& log_;
  SnapshotReceiver receiver_;
};

}  // namespace castor::raft
