// Reads: a node's linearizable reads, from the request to its answer (Raft thesis 6.4). Each
// read gets a context (raft/read_context.h) and asks the core for a read index; the core
// releases it once a heartbeat round confirmed the leader's commit index (released()), and the
// read is served once this node has applied that index (serve_ready()). Each reader waits in a
// Pending registry (kv/server/pending.h) until it is served, the core dropped it with its
// leadership (drop_unreleased(): UNAVAILABLE, it had no effect, retry anywhere) or its deadline
// passed (fail_expired(): UNAVAILABLE).
//
// What it does NOT do: read the state machine (ReadsHost::serve_read) or serve serializable reads
// (the server does, at once).
// Threading: not thread-safe; the server's io thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/server/pending.h"
#include "raft/base/status.h"
#include "raft/read_context.h"
#include "raft/ready.h"

namespace castor::kv {

// What Reads needs of the node that hosts it.
class ReadsHost {
 public:
  virtual ~ReadsHost() = default;
  // Asks the Raft core for a read index under `context` (raft::Node::read_index) and lets the
  // node drive it.
  virtual Status read_index(const std::string& context) = 0;
  // The core's commit index, for --unsafe-local-reads only.
  virtual raft::LogIndex committed() const = 0;
  // Serves one read from the state machine and answers it.
  virtual void serve_read(const pb::ClientRequest& req, const Respond& respond) = 0;
  virtual void answer(const Respond& respond, pb::ClientResponse r) const = 0;
  // Asks the state machine to commit what it applied at once (ApplyQueue::commit_soon), for
  // reads that wait for applied but not yet committed entries.
  virtual void commit_soon() = 0;
};

struct ReadsOptions {
  std::chrono::milliseconds deadline{0};  // how long a reader waits (--request-timeout-ms)
  uint64_t incarnation = 0;               // this run's read contexts (raft/read_context.h)
  // The planted bug (--unsafe-local-reads): serve at this node's own commit index, with no
  // heartbeat round to confirm it still leads.
  bool unsafe_local_reads = false;
};

class Reads {
 public:
  Reads(ReadsOptions options, ReadsHost& host) : opt_(options), host_(host), contexts_(options.incarnation) {}

  // Starts one linearizable read; `applied` is what the state machine has applied.
  void start(pb::ClientRequest req, Respond respond, raft::LogIndex applied);
  // The core released these reads at their read indexes.
  void released(const std::vector<raft::ReadState>& reads);
  // Serves every released read whose index is applied.
  void serve_ready(raft::LogIndex applied);
  // After a leadership change: answers UNAVAILABLE every read the core has not released, which
  // it dropped with its leadership.
  void drop_unreleased();
  // Answers UNAVAILABLE every reader whose deadline is at or before `now`.
  void fail_expired(std::chrono::steady_clock::time_point now);
  // Readers still waiting, for castor_pending_reads.
  size_t waiting() const { return waiting_.size(); }

 private:
  void add(uint64_t number, pb::ClientRequest req, Respond respond);

  const ReadsOptions opt_;
  ReadsHost& host_;
  raft::ReadContexts contexts_;
  Pending<uint64_t, pb::ClientRequest> waiting_;      // asked, by read number
  std::multimap<raft::LogIndex, uint64_t> released_;  // read index -> read number, awaiting apply
};

}  // namespace castor::kv
