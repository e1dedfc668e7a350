// Invariants: the safety properties the simulator checks after every step (paper 5.2-5.4,
// thesis 6.4). Each check records a violation as a readable line instead of aborting, so that
// the simulator can report the seed and carry on to the summary.
//
// Performs no I/O. Not thread-safe; one per simulated run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::sim {

using raft::LogIndex;
using raft::NodeId;
using raft::Term;

class Invariants {
 public:
  // Election safety (paper 5.2): at most one leader per term.
  void leader_seen(NodeId node, Term term);
  // Log matching (paper 5.3): entries with the same index and term hold the same command and
  // follow the same previous entry. `prev_term` is the term the node's log has at index - 1.
  void entry_persisted(NodeId node, const raft::pb::Entry& e, Term prev_term);
  // A leader never overwrites or deletes entries in its log (paper figure 3, leader append-only).
  void leader_overwrote(NodeId node, Term term, LogIndex index);
  // A node learned, while in `term`, that everything up to `commit` is committed. The first
  // node to learn of an index is the leader that committed it.
  template <typename TermAt>
  void commit_seen(LogIndex commit, Term term, TermAt term_at);
  // Leader completeness (paper 5.4): a new leader of `term` holds every entry committed in an
  // earlier term. `term_at` gives the new leader's term at an index (nullopt: compacted).
  template <typename TermAt>
  void leader_elected(NodeId node, Term term, LogIndex first_index, TermAt term_at);
  // State machine safety (paper 5.4.3): no two nodes apply different entries at one index.
  // `chain` is the node's running hash over everything applied up to `index`.
  void applied(NodeId node, LogIndex index, uint64_t chain);
  // Linearizable reads (thesis 6.4): a read served at applied index `served` reflects every
  // write committed anywhere before it was requested (`required`).
  void read_served(NodeId node, uint64_t read_id, LogIndex served, LogIndex required);

  LogIndex max_commit() const { return LogIndex(committed_term_.size()); }
  const std::vector<std::string>& violations() const { return violations_; }
  void fail(std::string what) { violations_.push_back(std::move(what)); }

 private:
  struct EntryRecord {
    uint64_t data_hash;
    uint64_t prev_term;
  };
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<std::pair<uint64_t, uint64_t>, EntryRecord> entries_;  // (index, term) -> record
  // For each committed index (1-based, stored at [i - 1]): the entry's term and the earliest
  // term in which some node knew it committed.
  std::vector<uint64_t> committed_term_;
  std::vector<uint64_t> committed_in_term_;
  std::map<uint64_t, uint64_t> chain_at_;  // index -> chain
  std::vector<std::string> violations_;
};

template <typename TermAt>
void Invariants::commit_seen(LogIndex commit, Term term, TermAt term_at) {
  for (uint64_t i = committed_term_.size() + 1; i <= commit.value; ++i) {
    std::optional<Term> t = term_at(LogIndex(i));
    if (!t) return;  // compacted on this node: another node will tell
    committed_term_.push_back(t->value);
    committed_in_term_.push_back(term.value);
  }
}

template <typename TermAt>
void Invariants::leader_elected(NodeId node, Term term, LogIndex first_index, TermAt term_at) {
  for (uint64_t i = first_index.value; i <= committed_term_.size(); ++i) {
    if (committed_in_term_[i - 1] >= term.value) continue;
    std::optional<Term> t = term_at(LogIndex(i));
    if (!t || t->value != committed_term_[i - 1]) {
      fail("leader completeness: node " + std::to_string(node.value) + " leads term " +
           std::to_string(term.value) + " without committed entry " + std::to_string(i) + " (term " +
           std::to_string(committed_term_[i - 1]) + ")");
      return;
    }
  }
}

}  // namespace castor::sim
