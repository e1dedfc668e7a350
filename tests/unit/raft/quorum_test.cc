#include "raft/quorum.h"

#include <gtest/gtest.h>

namespace castor::raft {
namespace {

TEST(Quorum, MajorityOfOddAndEvenClusters) {
  EXPECT_EQ(majority(1), 1u);
  EXPECT_EQ(majority(3), 2u);
  EXPECT_EQ(majority(4), 3u);
  EXPECT_EQ(majority(5), 3u);
}

TEST(Quorum, Section5_3_CommitIndexIsWhatAMajorityHolds) {
  EXPECT_EQ(quorum_index({LogIndex(5), LogIndex(3), LogIndex(9)}), LogIndex(5));
  EXPECT_EQ(quorum_index({LogIndex(1), LogIndex(2), LogIndex(3), LogIndex(4), LogIndex(5)}), LogIndex(3));
  EXPECT_EQ(quorum_index({LogIndex(7)}), LogIndex(7));
}

TEST(Quorum, Section5_2_TallyWinsLosesOrWaits) {
  std::vector<NodeId> voters{NodeId(1), NodeId(2), NodeId(3)};
  EXPECT_EQ(tally(voters, {{NodeId(1), true}}), VoteResult::kPending);
  EXPECT_EQ(tally(voters, {{NodeId(1), true}, {NodeId(2), true}}), VoteResult::kWon);
  EXPECT_EQ(tally(voters, {{NodeId(1), true}, {NodeId(2), false}}), VoteResult::kPending);
  EXPECT_EQ(tally(voters, {{NodeId(1), true}, {NodeId(2), false}, {NodeId(3), false}}), VoteResult::kLost);
  // Votes from non-voters do not count.
  EXPECT_EQ(tally(voters, {{NodeId(1), true}, {NodeId(9), true}}), VoteResult::kPending);
}

}  // namespace
}  // namespace castor::raft
