// Majority arithmetic over a set of voters (paper 5.2, 5.3). Pure functions.
//
// What it does NOT do: look at terms. quorum_index() only counts, and Node commits its result only
// when that entry is of the leader's own term (paper 5.4.2).
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
