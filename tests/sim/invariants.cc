#include "tests/sim/invariants.h"

#include <functional>

namespace castor::sim {

namespace {
std::string n(uint64_t v) { return std::to_string(v); }
}  // namespace

void Invariants::leader_seen(NodeId node, Term term) {
  auto [it, inserted] = leader_of_term_.emplace(term.value, node.value);
  if (!inserted && it->second != node.value) {
    fail("election safety: nodes " + n(it->second) + " and " + n(node.value) + " both lead term " +
         n(term.value));
  }
}

void Invariants::entry_persisted(NodeId node, const raft::pb::Entry& e, Term prev_term) {
  const uint64_t hash = std::hash<std::string>()(e.data()) ^ (static_cast<uint64_t>(e.type()) << 56);
  auto [it, inserted] =
      entries_.emplace(std::make_pair(e.index(), e.term()), EntryRecord{hash, prev_term.value});
  if (inserted) return;
  if (it->second.data_hash != hash) {
    fail("log matching: node " + n(node.value) + " holds a different command at index " + n(e.index()) +
         " term " + n(e.term()));
  } else if (it->second.prev_term != prev_term.value) {
    fail("log matching: node " + n(node.value) + " has entry " + n(e.index()) + " (term " + n(e.term()) +
         ") after an entry of term " + n(prev_term.value) + ", elsewhere after term " +
         n(it->second.prev_term));
  }
}

void Invariants::leader_overwrote(NodeId node, Term term, LogIndex index) {
  fail("leader append-only: node " + n(node.value) + ", leader of term " + n(term.value) +
       ", overwrote index " + n(index.value));
}

void Invariants::applied(NodeId node, LogIndex index, uint64_t chain) {
  auto [it, inserted] = chain_at_.emplace(index.value, chain);
  if (!inserted && it->second != chain) {
    fail("state machine safety: node " + n(node.value) + " applied a different history up to index " +
         n(index.value));
  }
}

void Invariants::read_served(NodeId node, uint64_t read_id, LogIndex served, LogIndex required) {
  if (served < required) {
    fail("linearizable read: read " + n(read_id) + " served by node " + n(node.value) + " at applied index " +
         n(served.value) + ", but index " + n(required.value) + " was committed before it was asked");
  }
}

}  // namespace castor::sim
