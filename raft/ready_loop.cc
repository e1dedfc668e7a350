#include "raft/ready_loop.h"

#include <utility>

#include "raft/base/assert.h"

namespace castor::raft {

void ReadyLoop::drive() {
  if (persisting()) {
    // An acknowledgement that arrived during the persist may have committed entries of an
    // earlier Ready: they are durable here already, so they apply now rather than after the
    // fsync (a leader's answers then wait for one fsync, not for two).
    std::vector<pb::Entry> committed = node_.take_committed();
    if (!committed.empty()) host_.apply(std::move(committed));
    return;
  }
  if (!node_.has_ready()) return;
  Ready rd = node_.ready();
  if (rd.soft_state) host_.on_soft_state(*rd.soft_state);
  for (const pb::Message& m : rd.early_messages) host_.send(m);
  if (bug_ == LoopBug::kAckBeforeFsync) {
    for (const pb::Message& m : rd.messages) host_.send(m);
    rd.messages.clear();
  }
  if (bug_ == LoopBug::kApplyBeforeCommit && !rd.entries.empty()) host_.apply(rd.entries);
  if (!rd.snapshot) {
    // Step 4 before step 2 (ready.h): committed entries are durable in this node's log already
    // and the commit index itself is volatile state (paper figure 2), so applying them need not
    // wait for this Ready's persist. A Ready with a snapshot keeps the order: the snapshot
    // replaces the state before they apply.
    if (!rd.committed.empty()) host_.apply(std::move(rd.committed));
    rd.committed.clear();
  }
  defer_commit_only_hard_state(rd);
  if (!rd.hard_state && rd.entries.empty() && !rd.snapshot) return finish(std::move(rd));
  in_flight_ = std::move(rd);
  host_.persist(*in_flight_);  // may call persisted() before it returns
}

void ReadyLoop::persisted(const Status& s) {
  CASTOR_ASSERT(in_flight_.has_value(), "persisted() without a persist outstanding");
  Ready rd = std::move(*in_flight_);
  in_flight_.reset();
  if (!s.is_ok()) return host_.fatal(s);
  finish(std::move(rd));
}

void ReadyLoop::defer_commit_only_hard_state(Ready& rd) {
  // A hard state that differs from the written one only in its commit index is not worth an
  // fsync of its own (etcd's raft node decides the same way, MustSync): the commit index is
  // volatile state (paper figure 2), so it rides along with the next write that must be
  // durable anyway. A restart may then find the state machine ahead of the stored commit
  // index, never ahead of the durable log (kv::reconcile accepts that).
  if (rd.hard_state && rd.hard_state->term() == written_.term() && rd.hard_state->vote() == written_.vote()) {
    deferred_ = std::move(rd.hard_state);
    rd.hard_state.reset();
  }
  if (!rd.entries.empty() || rd.snapshot || rd.hard_state) {
    if (!rd.hard_state && deferred_) rd.hard_state = std::move(deferred_);
    deferred_.reset();
    if (rd.hard_state) written_ = *rd.hard_state;
  }
}

void ReadyLoop::finish(Ready rd) {
  // Step 3: these may acknowledge what the persist made durable (vote grants, append acks).
  for (const pb::Message& m : rd.messages) host_.send(m);
  if (rd.snapshot) {
    host_.install_snapshot(*rd.snapshot);
    if (!rd.committed.empty()) host_.apply(std::move(rd.committed));
    rd.committed.clear();
  }
  if (!rd.reads.empty()) host_.reads_released(std::move(rd.reads));
  rd.reads.clear();
  node_.advance(rd);
  host_.turn_finished();
}

}  // namespace castor::raft
