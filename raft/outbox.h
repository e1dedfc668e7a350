// Outbox: what a Node owes its host and has not yet handed out in a Ready: the messages it sent,
// the reads that became safe to serve, a snapshot to install, and whether its role, leader,
// term, vote or commit index changed since a Ready last reported them (raft/ready.h,
// docs/DESIGN.md, "The Ready contract").
//
// Node puts things in as the protocol produces them. Node::ready() takes them out with take(),
// and adds what its log holds (unstable and committed entries); Node::advance() reports the
// Ready carried out with advance(). Between take() and advance() the Outbox goes on filling, for
// the next Ready. It sorts messages into those that may leave before the host's persist step and
// those that must wait for it (thesis 10.2.1), since that rule is part of the Ready contract.
//
// What it does NOT do: decide what to send or when a read is safe (Node, Leader, Follower and
// ReadIndexQueue do), stamp a message's sender or term (Node::send does), or touch the log:
// entries are the RaftLog's to hand out. Performs no I/O. Not thread-safe; owned by its Node.
#pragma once

#include <optional>
#include <vector>

#include "raft/config.h"
#include "raft/raft.pb.h"
#include "raft/ready.h"

namespace castor::raft {

class Outbox {
 public:
  explicit Outbox(PlantedBug planted_bug) : planted_bug_(planted_bug) {}

  // What the host already knows when the Node starts: the state it recovered from its log.
  void start_from(const SoftState& soft, const pb::HardState& hard);

  // A message from a node whose role is `role`, sender and term already stamped.
  void send(pb::Message m, Role role);
  // A read the host may serve once it has applied `read.index`.
  void add_read(ReadState read);
  // A snapshot the host must install, replacing any not yet handed out. It is held until
  // advance() reports the Ready that carried it.
  void install_snapshot(pb::Snapshot snapshot);

  // Whether the next Ready has anything from here, the node's state now being `soft` and `hard`.
  bool has_ready(const SoftState& soft, const pb::HardState& hard) const;
  // A Ready with everything held here (its entries and committed entries left empty), marking
  // `soft` and `hard` as reported. Must be followed by advance() before the next take().
  Ready take(const SoftState& soft, const pb::HardState& hard);
  // The host has carried out `rd`.
  void advance(const Ready& rd);

 private:
  bool hard_state_changed(const pb::HardState& hard) const;

  PlantedBug planted_bug_;
  std::vector<pb::Message> early_messages_;
  std::vector<pb::Message> messages_;
  std::vector<ReadState> reads_;
  std::optional<pb::Snapshot> snapshot_;
  SoftState reported_soft_;
  pb::HardState reported_hard_;
  bool awaiting_advance_ = false;
};

}  // namespace castor::raft
