// Transfers: the leadership transfers (thesis 3.10) clients asked this node for, each waiting
// until its target leads (answered OK) or its deadline passes (answered UNAVAILABLE: the
// target did not take over in time; the client may ask again).
//
// What it does NOT do: start a transfer (raft::Node::transfer_leadership) or fill in the
// answers' headers: it returns each answer with its way back, and the server sends them.
// Not thread-safe: the server's io thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "kv/kv.pb.h"
#include "kv/server/pending.h"

namespace castor::kv {

class Transfers {
 public:
  using Answer = std::pair<Respond, pb::ClientResponse>;

  explicit Transfers(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // The OK answer to a transfer request (also for one whose target already leads).
  static pb::ClientResponse done(uint64_t request_id);

  // Waits for `target` (a member number) to lead.
  void wait(uint64_t request_id, Respond respond, uint64_t target);
  // `leader` leads now: the answers to the transfers to it.
  std::vector<Answer> took_over(uint64_t leader);
  // The answers to the transfers whose deadline passed by `now`.
  std::vector<Answer> expired(std::chrono::steady_clock::time_point now);

  size_t waiting() const { return pending_.size(); }

 private:
  const std::chrono::milliseconds timeout_;
  Pending<uint64_t, uint64_t> pending_;  // by number; the target as extra
  uint64_t next_ = 0;
};

}  // namespace castor::kv
