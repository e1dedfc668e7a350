// Helpers shared by the storage tests: entry builders (and TempDir, tests/unit/temp_dir.h).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "raft/raft.pb.h"
#include "tests/unit/temp_dir.h"

namespace castor::raft::testing {

using castor::testing::TempDir;

inline pb::Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data.empty() ? "entry-" + std::to_string(index) + "-term-" + std::to_string(term)
                          : std::move(data));
  return e;
}

// Entries [lo, hi), all in one term.
inline std::vector<pb::Entry> make_entries(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<pb::Entry> out;
  for (uint64_t i = lo; i < hi; ++i) out.push_back(make_entry(i, term));
  return out;
}

inline pb::HardState make_hard_state(uint64_t term, uint64_t vote, uint64_t commit) {
  pb::HardState hs;
  hs.set_term(term);
  hs.set_vote(vote);
  hs.set_commit(commit);
  return hs;
}

inline pb::ConfState make_conf(std::initializer_list<uint64_t> voters) {
  pb::ConfState conf;
  for (uint64_t v : voters) conf.add_voters(v);
  return conf;
}

}  // namespace castor::raft::testing
