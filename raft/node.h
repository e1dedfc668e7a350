// Node: one Raft server's consensus logic, as a deterministic state machine.
//
// The host feeds it time (tick), messages (step) and requests (propose, read_index,
// transfer_leadership), and drains what it must do as a Ready (see ready.h), calling advance()
// when done. Same config, seed and inputs give the same outputs, byte for byte.
//
// Node itself keeps the roles, the term and vote, the election clock and elections (paper 5.2,
// thesis 9.6, 4.2.3), and hands the rest to its parts: a Leader while it leads (replication,
// commitment, proposals, reads, transfer: leader.h), its Follower for what a leader sends it
// (follower.h), and its Outbox for what the next Ready carries (outbox.h).
//
// What it does NOT do: any I/O. It never writes the log (the host persists Ready::entries into
// the LogReader it handed in), never sends, never reads a clock, never logs.
// Not thread-safe; owned by one thread (the server strand, or the simulator).
#pragma once

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/base/status.h"
#include "raft/config.h"
#include "raft/follower.h"
#include "raft/leader.h"
#include "raft/log.h"
#include "raft/outbox.h"
#include "raft/progress.h"
#include "raft/ready.h"

namespace castor::raft {

class Node {
 public:
  // Starts as a follower from whatever `durable` holds (a fresh log or a restart).
  Node(const Config& config, const LogReader& durable);
  // Its Leader refers to its members.
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // One unit of logical time.
  void tick();
  // A message from a peer. What check_peer_message (message_check.h) refuses is ignored and
  // the refusal returned (kInvalidArgument naming the field), for the host to log and count;
  // a peer's bug never reaches the core's assertions.
  Status step(const pb::Message& m);

  // Appends `data` as a new entry. kNotLeader (see leader() for the hint), or kDropped when
  // too many entries are uncommitted or a leadership transfer is under way.
  Result<Proposal> propose(std::string data);
  // Asks for a linearizable read; a ReadState with this context appears in a later Ready.
  // kNotLeader when no leader is known. A read may silently vanish if leadership changes:
  // the host times it out, or fails all pending reads when SoftState shows a new term.
  Status read_index(std::string context);
  // Thesis 3.10: brings `to` up to date, then tells it to campaign at once.
  Status transfer_leadership(NodeId to);
  // Starts an election now (pre-vote first when enabled), as if the election timer fired.
  void campaign_now();

  bool has_ready() const;
  // Must be followed by advance(ready) before the next ready().
  Ready ready();
  void advance(const Ready& ready);
  // Committed entries not yet handed out (Ready::committed hands out the same way): durable in
  // this node's log and committed, so they may be applied at once. For a host whose Ready is
  // still being persisted when an acknowledgement commits earlier entries: it need not wait for
  // its own fsync to apply them. Callable at any time; each entry is handed out once.
  std::vector<pb::Entry> take_committed();

  NodeId id() const { return cfg_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  LogIndex committed() const { return log_.committed(); }
  LogIndex applied() const { return log_.applied(); }
  LogIndex last_index() const { return log_.last_index(); }
  std::optional<Term> term_at(LogIndex i) const { return log_.term(i); }
  const std::vector<NodeId>& voters() const { return voters_; }
  // Leader only: replication state per voter (including itself).
  const std::map<NodeId, Progress>& progress() const;
  // Snapshot streams received whole whose data failed its checksum, and were asked for again;
  // the host logs and counts each (the core does no I/O).
  uint64_t snapshots_refused() const { return follower_.snapshots_refused(); }

 private:
  enum class CampaignKind { kPreElection, kElection, kTransfer };

  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void campaign(CampaignKind kind);
  void reset(Term term);

  void step_checked(const pb::Message& m);
  void step_candidate(const pb::Message& m);
  void step_follower(const pb::Message& m);
  void handle_vote_request(const pb::Message& m);
  // Paper 7: the snapshot a leader sent replaces the log (Follower restored it) and the voters.
  void install_snapshot_of(pb::Snapshot snapshot);

  void send(pb::Message m);
  bool is_voter(NodeId n) const;
  SoftState soft_state() const { return {role_, leader_, term_}; }
  pb::HardState hard_state() const;

  Config cfg_;
  const LogReader& durable_;
  RaftLog log_;
  std::mt19937_64 rng_;

  Role role_ = Role::kFollower;
  Term term_;
  NodeId vote_;
  NodeId leader_;
  std::vector<NodeId> voters_;
  std::map<NodeId, bool> votes_;

  uint32_t election_elapsed_ = 0;
  uint32_t randomized_election_timeout_ = 0;

  Follower follower_;
  Outbox outbox_;
  // Set exactly while this node leads (role_ == Role::kLeader), for its term.
  std::optional<Leader> leading_;
};

}  // namespace castor::raft
