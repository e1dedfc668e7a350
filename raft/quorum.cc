#include "raft/quorum.h"

#include <algorithm>

#include "raft/base/assert.h"

namespace castor::raft {

size_t majority(size_t voters) { return voters / 2 + 1; }

LogIndex quorum_index(std::vector<LogIndex> match_indexes) {
  CASTOR_ASSERT(!match_indexes.empty(), "a quorum needs voters");
  // Sorted descending, the majority-th largest index is held by at least a majority.
  std::sort(match_indexes.begin(), match_indexes.end(), std::greater<>());
  return match_indexes[majority(match_indexes.size()) - 1];
}

VoteResult tally(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  size_t granted = 0, rejected = 0;
  for (NodeId v : voters) {
    auto it = votes.find(v);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const size_t need = majority(voters.size());
  if (granted >= need) return VoteResult::kWon;
  if (rejected > voters.size() - need) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace castor::raft
