// Majority arithmetic over a set of voters (paper 5.2, 5.3). Pure functions.
#pragma once

#include <map>
#include <vector>

#include "raft/types.h"

namespace castor::raft {

enum class VoteResult { kPending, kWon, kLost };

// The number of voters that makes a majority of `voters`.
size_t majority(size_t voters);

// The largest index that a majority of `match_indexes` (one per voter) has reached.
LogIndex quorum_index(std::vector<LogIndex> match_indexes);

// Whether the granted and rejected votes so far decide an election among `voters`.
VoteResult tally(const std::vector<NodeId>& voters, const std::map<NodeId, bool>& votes);

}  // namespace castor::raft
