// Applier: the apply side of a node. Committed entries, the leader's snapshots and the node's
// own snapshots all go through one apply thread (kv/machine/apply_queue.h), in log order, and
// their outcomes come back to the io thread through ApplierHost:
//   - what each batch applied, as soon as it applies (before the state machine commits: the Raft
//     log already makes it durable, StateMachine::apply_uncommitted): the answers for the
//     commands this node's writers wait for, and the events for its watchers;
//   - the applied index, once a group of entries is committed and readable (reads wait for it);
//   - a snapshot installed or taken (paper section 7);
//   - any state-machine failure, which stops the node.
// applied() is the io thread's view of the applied index: it only grows, and is updated before
// the host hears of the change.
//
// What it does NOT do: decide when to snapshot or compact the log (kv/server/compaction.h),
// answer clients itself, or serve reads. Threading: every public method on the io thread only;
// the state machine is touched only on the apply thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kv/machine/apply_queue.h"
#include "kv/machine/state_machine.h"
#include "kv/server/server_metrics.h"
#include "raft/base/status.h"
#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::kv {

// What the Applier reports to the node that hosts it. Every call comes on the io thread.
class ApplierHost {
 public:
  virtual ~ApplierHost() = default;
  // Runs `job` on the io thread after the events already queued there.
  virtual void post(std::function<void()> job) = 0;
  // A batch of entries applied: answers for writers, events for watchers (not both empty).
  virtual void batch_applied(AppliedBatch batch) = 0;
  // applied() moved forward: by committed entries, or by the leader's snapshot at `snapshot`
  // (set only then).
  virtual void applied_moved(std::optional<raft::LogIndex> snapshot) = 0;
  // A snapshot asked for by take_snapshot() is ready (or failed: the node stops).
  virtual void snapshot_taken(Result<SnapshotInfo> info, std::string data) = 0;
  // The state machine failed; the node must stop.
  virtual void apply_failed(const Status& s) = 0;
};

class Applier {
 public:
  Applier(StateMachine& sm, ServerMetrics& metrics, ApplierHost& host);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Queues committed entries, in log order after everything queued before.
  void apply(std::vector<raft::pb::Entry> committed);
  // Replaces the state machine with the leader's snapshot, before any entry queued after it.
  void install(const raft::pb::Snapshot& snapshot);
  // Takes a snapshot of everything queued so far, made durable first; snapshot_taken() follows.
  void take_snapshot();
  // A reader waits for applied entries: commit them now rather than at the interval's end.
  void commit_soon() { queue_.commit_soon(); }
  // Runs what is queued, commits, and ends the apply thread.
  void join() { queue_.join(); }
  // What the io thread knows the state machine has applied and committed.
  raft::LogIndex applied() const { return applied_; }

 private:
  // On the apply thread.
  void apply_batch(const std::vector<raft::pb::Entry>& entries);
  void commit_applied();
  // On the io thread.
  void move_applied(raft::LogIndex to, std::optional<raft::LogIndex> snapshot);

  StateMachine& sm_;
  ServerMetrics& metrics_;
  ApplierHost& host_;
  raft::LogIndex applied_;
  ApplyQueue queue_;  // last: its thread stops before the members it uses go away
};

}  // namespace castor::kv
