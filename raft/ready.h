// Ready: everything the host must do after the core changed state. The host handles a Ready
// in this order (docs/DESIGN.md, "The Ready contract"), then calls Node::advance with it:
//   1. send `early_messages` (leader appends/heartbeats: safe before the leader's own fsync,
//      thesis 10.2.1);
//   2. persist `snapshot` (install), then `hard_state` and `entries` (which may replace a
//      conflicting suffix), durably, in one write;
//   3. send `messages` (they may acknowledge what step 2 persisted: vote grants, append acks);
//   4. apply `committed` in order, serve each `reads` entry once applied >= its index;
//   5. Node::advance(ready).
// Between ready() and advance() the host may go on calling tick, step, propose and
// read_index (say, while a log thread fsyncs); what they produce waits for the next Ready.
//
// What it does NOT do: carry out any step: it is plain data. Node fills it, and raft/ready_loop.h
// carries it out for castord and the simulator.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role role);

// A linearizable read may be served once the host has applied index `index` (thesis 6.4).
struct ReadState {
  LogIndex index;
  std::string context;
};

struct SoftState {
  Role role = Role::kFollower;
  NodeId leader;
  Term term;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  std::optional<SoftState> soft_state;  // set when role, leader or term changed
  std::optional<pb::HardState> hard_state;
  std::vector<pb::Entry> entries;
  std::optional<pb::Snapshot> snapshot;
  std::vector<pb::Message> early_messages;
  std::vector<pb::Message> messages;
  std::vector<pb::Entry> committed;
  std::vector<ReadState> reads;
};

}  // namespace castor::raft
