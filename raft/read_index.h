// ReadIndexQueue: the leader's pending linearizable reads (thesis 6.4).
//
// A read is safe at the commit index the leader had when the read arrived, once the leader
// has confirmed it was still leader after that moment. Reads that arrive between two flushes
// share one confirmation round (one heartbeat broadcast), so many reads cost one round trip.
// Rounds are numbered; an acknowledgement of round r confirms every round <= r, because the
// follower answered a heartbeat sent after those reads arrived. A read that reaches a new leader
// before it has committed an entry of its own term is held until it has (thesis 6.4 step 1).
//
// What it does NOT do: send heartbeats or keep track of who acknowledged which round (Node does,
// and calls release_confirmed() with each voter's latest acknowledged round), answer the node
// that asked (Node does, with each released read), or wait for apply (the host does, per
// ReadState). Performs no I/O. Not thread-safe; owned by its Node.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "raft/types.h"

namespace castor::raft {

struct ReadRequest {
  std::string context;  // the host's id for the read, returned in its ReadState
  NodeId from;          // the node that asked (itself, or a follower that forwarded it)
};

class ReadIndexQueue {
 public:
  // Queues a read at `index`; it joins the round that the next flush() opens.
  void add(LogIndex index, ReadRequest request);
  // Holds a read that reached a leader which has not yet committed an entry of its own term:
  // until it has, its commit index may be behind the previous leader's (thesis 6.4 step 1).
  void hold(ReadRequest request);
  // The leader has committed an entry of its own term at `index`: the held reads queue there.
  void own_term_committed(LogIndex index);
  // Opens a round for the reads added since the last flush; returns its number, or 0 if
  // there were none.
  uint64_t flush();
  // The highest round opened so far (0 if none): heartbeats carry it.
  uint64_t last_round() const { return next_round_ - 1; }

  struct Released {
    LogIndex index;
    ReadRequest request;
  };
  // Releases, in order, every read whose round is <= confirmed_round.
  std::vector<Released> release(uint64_t confirmed_round);
  // Releases, in order, every read whose round a majority of the voters has confirmed. `acked`
  // holds each voter's latest acknowledged round; the leader's own is last_round(), since it
  // confirms every round it opens.
  std::vector<Released> release_confirmed(std::vector<uint64_t> acked);
  // Leadership was lost: every pending read, held ones included, is dropped (the host fails them).
  void clear();
  bool has_unflushed() const { return !unflushed_.empty(); }

 private:
  struct Round {
    uint64_t number;
    std::vector<Released> reads;
  };
  std::deque<Round> rounds_;
  std::vector<Released> unflushed_;
  std::vector<ReadRequest> held_;
  uint64_t next_round_ = 1;
};

}  // namespace castor::raft
