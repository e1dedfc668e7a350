// TestCluster: N raft::Node objects over MemoryLogs with a hand-driven message router, for unit
// tests of the core. Test-only.
//
// Unlike tests/sim nothing here is random: a test decides which messages arrive, which are held
// back and which are lost, and when anyone ticks. Each node's Ready is handled exactly as
// raft/ready.h prescribes (send early_messages, persist snapshot then hard state and entries,
// send messages, apply committed, record reads, advance), so a test sees the core through the
// same contract castord uses.
//
// Sent messages go into one FIFO "network" (in_flight()); nothing arrives until the test
// delivers it. Every message ever sent is also kept in sent() so that tests can count round trips.
//
// Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/config.h"
#include "raft/memory_log.h"
#include "raft/node.h"
#include "raft/ready.h"

namespace castor::raft::testing {

using MsgPred = std::function<bool(const pb::Message&)>;

// Small builders, so that tests read as the paper does.
inline pb::Entry entry(uint64_t index, uint64_t term, std::string data = {},
                       pb::EntryType type = pb::ENTRY_NORMAL) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_type(type);
  e.set_data(std::move(data));
  return e;
}

inline pb::HardState hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  pb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

inline pb::ConfState conf_of(size_t n) {
  pb::ConfState conf;
  for (uint64_t i = 1; i <= n; ++i) conf.add_voters(i);
  return conf;
}

// A message as a peer would send it; fields beyond these are set by the test.
inline pb::Message msg(pb::MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

inline Config config_for(uint64_t id, bool pre_vote = true, bool check_quorum = true) {
  Config cfg;
  cfg.id = NodeId(id);
  cfg.random_seed = id;
  cfg.pre_vote = pre_vote;
  cfg.check_quorum = check_quorum;
  return cfg;
}

// For tests that drive one Node by hand: takes one Ready, persists it to `log` and advances,
// and returns it for inspection. Its messages are not sent anywhere.
// Steps a message from an honest peer: the receiver's check (Node::step) must accept it.
inline void step_ok(Node& node, const pb::Message& m) {
  const Status s = node.step(m);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
}

inline Ready handle_ready(Node& node, MemoryLog& log) {
  Ready rd = node.ready();
  if (rd.snapshot) log.install_snapshot(*rd.snapshot);
  log.append(rd.hard_state, rd.entries);
  node.advance(rd);
  return rd;
}

inline std::vector<pb::Message> of_type(const std::vector<pb::Message>& msgs, pb::MessageType t) {
  std::vector<pb::Message> out;
  for (const auto& m : msgs) {
    if (m.type() == t) out.push_back(m);
  }
  return out;
}

inline MsgPred is_type(pb::MessageType t) {
  return [t](const pb::Message& m) { return m.type() == t; };
}
inline MsgPred is_msg(pb::MessageType t, uint64_t from, uint64_t to) {
  return [=](const pb::Message& m) { return m.type() == t && m.from() == from && m.to() == to; };
}
inline MsgPred to_node(uint64_t to) {
  return [to](const pb::Message& m) { return m.to() == to; };
}

class TestCluster {
 public:
  // Nodes 1..n; `tweak` adjusts each node's Config (its id and seed are already set).
  explicit TestCluster(size_t n, std::function<void(Config&)> tweak = {}) : tweak_(std::move(tweak)) {
    for (uint64_t id = 1; id <= n; ++id) {
      hosts_[id].log = std::make_unique<MemoryLog>(conf_of(n));
      restart(id);
    }
  }

  Node& node(uint64_t id) { return *hosts_.at(id).node; }
  MemoryLog& log(uint64_t id) { return *hosts_.at(id).log; }
  const Config& config(uint64_t id) const { return hosts_.at(id).cfg; }
  // Entries handed to the host for apply, in order, over the node's whole life.
  const std::vector<pb::Entry>& applied(uint64_t id) { return hosts_.at(id).applied; }
  const std::vector<ReadState>& reads(uint64_t id) { return hosts_.at(id).reads; }
  // Every Ready this node's host handled, in order.
  const std::vector<Ready>& readies(uint64_t id) { return hosts_.at(id).readies; }

  // Crash and restart: a new Node built from what the MemoryLog holds. Whatever was not
  // persisted (unstable entries, partial snapshot streams) is gone.
  void restart(uint64_t id) {
    Host& h = hosts_.at(id);
    h.cfg = Config{};
    h.cfg.id = NodeId(id);
    h.cfg.random_seed = id;
    if (tweak_) tweak_(h.cfg);
    h.node.reset();
    h.node = std::make_unique<Node>(h.cfg, *h.log);
  }

  // The node's disk dies: it restarts empty under the same id (docs/RUNBOOK.md).
  void wipe(uint64_t id) {
    Host& h = hosts_.at(id);
    h.log = std::make_unique<MemoryLog>(conf_of(hosts_.size()));
    restart(id);
  }

  // The host's Ready loop (raft/ready.h), until the node has nothing more to do.
  void process(uint64_t id) {
    Host& h = hosts_.at(id);
    while (h.node->has_ready()) {
      Ready rd = h.node->ready();
      for (const auto& m : rd.early_messages) send(m);
      if (rd.snapshot) h.log->install_snapshot(*rd.snapshot);
      h.log->append(rd.hard_state, rd.entries);
      for (const auto& m : rd.messages) send(m);
      for (const auto& e : rd.committed) h.applied.push_back(e);
      for (const auto& r : rd.reads) h.reads.push_back(r);
      h.node->advance(rd);
      h.readies.push_back(std::move(rd));
    }
  }
  void process_all() {
    for (auto& [id, h] : hosts_) process(id);
  }

  void tick(uint64_t id, int n = 1) {
    for (int i = 0; i < n; ++i) {
      node(id).tick();
      process(id);
    }
  }

  // --- The network ---

  std::deque<pb::Message>& in_flight() { return in_flight_; }
  const std::vector<pb::Message>& sent() const { return sent_; }
  size_t count_sent(const MsgPred& pred) const {
    size_t n = 0;
    for (const auto& m : sent_) n += pred(m) ? 1 : 0;
    return n;
  }
  void clear_sent() { sent_.clear(); }

  // Messages matching `pred` are lost from now on, when delivery is attempted.
  void set_drop(MsgPred pred) { drop_ = std::move(pred); }
  void clear_drop() { drop_ = nullptr; }
  // Messages are passed through `f` on delivery from now on (a network that alters them).
  void set_rewrite(std::function<void(pb::Message&)> f) { rewrite_ = std::move(f); }
  void clear_rewrite() { rewrite_ = nullptr; }
  // How many delivered messages their receiver refused (Node::step's check).
  int refused() const { return refused_; }
  // Cuts every link to and from `id` (a symmetric partition) until heal().
  void isolate(uint64_t id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }

  // Removes and returns the in-flight messages matching `pred`; the test holds them.
  std::vector<pb::Message> take(const MsgPred& pred) {
    std::vector<pb::Message> out;
    std::deque<pb::Message> keep;
    for (auto& m : in_flight_) {
      if (pred(m)) {
        out.push_back(std::move(m));
      } else {
        keep.push_back(std::move(m));
      }
    }
    in_flight_ = std::move(keep);
    return out;
  }
  void discard(const MsgPred& pred) { take(pred); }

  // Delivers one message now (partitions and the drop filter still apply), then lets the
  // receiver's host handle the resulting Ready. Returns whether it arrived.
  bool deliver(const pb::Message& m) {
    if (lost(m)) return false;
    // The receiver's check (Node::step) may refuse a message: a rewritten one is what some
    // tests forge, and after noise (message_check_test) even an honest node may send terms the
    // check refuses. Refusals are counted for the test to look at.
    pb::Message rewritten;
    if (rewrite_) {
      rewritten = m;
      rewrite_(rewritten);
    }
    if (!node(m.to()).step(rewrite_ ? rewritten : m).is_ok()) ++refused_;
    process(m.to());
    return true;
  }

  // Delivers the oldest in-flight message; false when there is none.
  bool deliver_one() {
    if (in_flight_.empty()) return false;
    pb::Message m = std::move(in_flight_.front());
    in_flight_.pop_front();
    deliver(m);
    return true;
  }
  // Delivers one message at a time until `done()` holds; false if the network went quiet first.
  bool deliver_until(const std::function<bool()>& done) {
    while (!done()) {
      if (!deliver_one()) return false;
    }
    return true;
  }

  // Delivers in-flight messages, in FIFO order, and everything they cause, until the network
  // is quiet or `max_msgs` messages were attempted. Returns the number attempted.
  size_t deliver_all(size_t max_msgs = 100000) {
    size_t n = 0;
    while (!in_flight_.empty() && n < max_msgs) {
      pb::Message m = std::move(in_flight_.front());
      in_flight_.pop_front();
      deliver(m);
      ++n;
    }
    if (max_msgs == 100000) {
      EXPECT_TRUE(in_flight_.empty()) << "the cluster never went quiet";
    }
    return n;
  }

  // Ticks every node once (in id order), then delivers everything.
  void tick_all_and_deliver(int rounds = 1) {
    for (int i = 0; i < rounds; ++i) {
      for (auto& [id, h] : hosts_) tick(id);
      deliver_all();
    }
  }

  // Makes `id` leader now: it campaigns and everything is delivered; then its no-op commits.
  void elect(uint64_t id) {
    node(id).campaign_now();
    process(id);
    deliver_all();
    ASSERT_EQ(node(id).role(), Role::kLeader) << "node " << id << " did not win";
  }

 private:
  struct Host {
    Config cfg;
    std::unique_ptr<MemoryLog> log;
    std::unique_ptr<Node> node;
    std::vector<pb::Entry> applied;
    std::vector<ReadState> reads;
    std::vector<Ready> readies;
  };

  void send(const pb::Message& m) {
    sent_.push_back(m);
    in_flight_.push_back(m);
  }
  bool lost(const pb::Message& m) const {
    if (isolated_.count(m.from()) || isolated_.count(m.to())) return true;
    return drop_ && drop_(m);
  }

  std::function<void(Config&)> tweak_;
  std::map<uint64_t, Host> hosts_;
  std::deque<pb::Message> in_flight_;
  std::vector<pb::Message> sent_;
  MsgPred drop_;
  std::function<void(pb::Message&)> rewrite_;
  int refused_ = 0;
  std::set<uint64_t> isolated_;
};

}  // namespace castor::raft::testing
