// Leader: what a node does while it leads, for the one term it leads in. It replicates the log
// to every follower (a Progress per voter: appends, snapshot streams, heartbeats), commits what
// a majority holds (paper 5.3, 5.4.2), takes proposals, serves linearizable reads (thesis 6.4)
// and hands leadership over (thesis 3.10).
//
// Node creates one when it wins an election and destroys it when it stops leading, so its
// state (Progress, pending reads, a transfer under way) lives exactly as long as the term's
// leadership. Node passes it the messages a leader handles (step()), its ticks' heartbeat share
// (tick_heartbeat()), and calls flush() before each Ready and persisted() in each advance().
// Messages go out through the `send` it was given, which stamps sender and term; reads of the
// leader's own host go straight to the Outbox.
//
// What it does NOT do: change roles or terms, or keep the election clock: Node does, and asks
// quorum_active() when check-quorum is due (thesis 6.2). It never writes anything but the
// unstable tail of the RaftLog, does no I/O, and never copies the durable log: snapshot chunks
// are read from the LogReader as they are sent.
// Not thread-safe; owned by its Node, on the Node's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "raft/base/status.h"
#include "raft/config.h"
#include "raft/log.h"
#include "raft/outbox.h"
#include "raft/progress.h"
#include "raft/raft.pb.h"
#include "raft/read_index.h"

namespace castor::raft {

struct Proposal {
  LogIndex index;
  Term term;
};

class Leader {
 public:
  // Everything here must outlive the Leader; `voters` must not change while it leads.
  Leader(Term term, const Config& cfg, const LogReader& durable, RaftLog& log,
         const std::vector<NodeId>& voters, Outbox& outbox, std::function<void(pb::Message)> send);
  Leader(const Leader&) = delete;
  Leader& operator=(const Leader&) = delete;

  // See Node::propose.
  Result<Proposal> propose(std::string data);
  // A read that this node (from == cfg.id) or a follower asked for.
  void read(ReadRequest request);
  // Starts (or, on a host's retry, repeats) a transfer to the voter `to`. Returns false when a
  // transfer to `to` was already under way, whose deadline the caller must keep.
  bool transfer_to(NodeId to);
  // The transfer's election timeout ran out (thesis 3.10): proposals are taken again.
  void abandon_transfer() { transferee_ = kNoNode; }

  // A message of this term from a voter, for a leader.
  void step(const pb::Message& m);
  // One tick: a heartbeat goes out every Config::heartbeat_interval_ticks.
  void tick_heartbeat();
  // Thesis 6.2: whether a majority was heard from since the previous call (which starts a new
  // period).
  bool quorum_active();

  // Before a Ready is built: sends what appends waited for it, and opens a read round.
  void flush();
  bool has_flush_work() const { return needs_bcast_ || reads_.has_unflushed(); }
  // The host has made the log durable up to log.stable_last().
  void persisted();

  const std::map<NodeId, Progress>& progress() const { return progress_; }

 private:
  void handle_append_response(const pb::Message& m, Progress& pr);
  void handle_heartbeat_response(const pb::Message& m, Progress& pr);
  void handle_snapshot_response(const pb::Message& m, Progress& pr);
  uint64_t confirmed_round(const pb::Message& reply) const;
  void try_release_reads();
  void release_read(LogIndex index, ReadRequest request);

  void append_entry(pb::EntryType type, std::string data);
  bool maybe_commit();
  bool send_append(NodeId to, bool allow_empty);
  void send_appends_while_possible(NodeId to);
  void send_snapshot_chunk(NodeId to, Progress& pr);
  void send_timeout_now(NodeId to);
  void bcast_append(bool allow_empty);
  void bcast_heartbeat();

  const Term term_;
  const Config& cfg_;
  const LogReader& durable_;
  RaftLog& log_;
  const std::vector<NodeId>& voters_;
  Outbox& outbox_;
  std::function<void(pb::Message)> send_;

  std::map<NodeId, Progress> progress_;
  ReadIndexQueue reads_;
  NodeId transferee_;
  uint32_t heartbeat_elapsed_ = 0;
  bool needs_bcast_ = false;
};

}  // namespace castor::raft
