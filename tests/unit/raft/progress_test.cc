// Progress: the leader's view of one follower (paper 5.3, thesis 10.2.1 pipelining).
#include "raft/progress.h"

#include <gtest/gtest.h>

namespace castor::raft {
namespace {

using State = Progress::State;

TEST(Progress, Section5_3_ProbeSendsOneAppendAtATime) {
  Progress pr(LogIndex(5), 4);
  EXPECT_EQ(pr.state, State::kProbe);
  EXPECT_FALSE(pr.is_paused());
  pr.sent_append(LogIndex(7), true);
  EXPECT_TRUE(pr.is_paused());      // wait for the answer before probing again
  EXPECT_EQ(pr.next, LogIndex(5));  // probing does not move next optimistically
  EXPECT_TRUE(pr.maybe_update(LogIndex(7)));
  EXPECT_FALSE(pr.is_paused());
  EXPECT_EQ(pr.match, LogIndex(7));
  EXPECT_EQ(pr.next, LogIndex(8));
}

TEST(Progress, Thesis10_2_1_ReplicateWindowBoundsUnackedAppends) {
  Progress pr(LogIndex(1), 2);
  pr.become_replicate();
  pr.sent_append(LogIndex(3), true);
  EXPECT_EQ(pr.next, LogIndex(4));     // streaming: next moves as soon as an append leaves
  pr.sent_append(LogIndex(3), false);  // an empty append (a probe of commit) takes no slot
  EXPECT_FALSE(pr.is_paused());
  pr.sent_append(LogIndex(5), true);
  EXPECT_TRUE(pr.is_paused());
  // An ack frees every slot it covers.
  EXPECT_TRUE(pr.maybe_update(LogIndex(3)));
  EXPECT_FALSE(pr.is_paused());
  pr.sent_append(LogIndex(8), true);
  EXPECT_TRUE(pr.is_paused());
  // A lost append: the heartbeat path frees the oldest slot so that one more may go.
  pr.free_first_inflight();
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, Section5_3_StaleRejectionInReplicateIsIgnored) {
  Progress pr(LogIndex(1), 8);
  pr.maybe_update(LogIndex(5));
  pr.become_replicate();
  pr.sent_append(LogIndex(9), true);
  // A reordered rejection of an append at or below match says nothing new.
  EXPECT_FALSE(pr.maybe_decrease_to(LogIndex(4), LogIndex(2)));
  EXPECT_FALSE(pr.maybe_decrease_to(LogIndex(5), LogIndex(2)));
  EXPECT_EQ(pr.state, State::kReplicate);
  EXPECT_EQ(pr.next, LogIndex(10));
  // A real rejection above match drops back to probing from the hint, never below match + 1.
  EXPECT_TRUE(pr.maybe_decrease_to(LogIndex(9), LogIndex(7)));
  EXPECT_EQ(pr.state, State::kProbe);
  EXPECT_EQ(pr.next, LogIndex(8));
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, Section5_3_ProbeCountsOnlyTheRejectionOfTheLastProbe) {
  Progress pr(LogIndex(10), 8);  // probing with prev = 9
  pr.sent_append(LogIndex(12), true);
  EXPECT_FALSE(pr.maybe_decrease_to(LogIndex(5), LogIndex(1)));  // an older probe's answer
  EXPECT_EQ(pr.next, LogIndex(10));
  EXPECT_TRUE(pr.is_paused());
  EXPECT_TRUE(pr.maybe_decrease_to(LogIndex(9), LogIndex(3)));
  EXPECT_EQ(pr.next, LogIndex(4));  // jumps to hint + 1, not one step back
  EXPECT_FALSE(pr.is_paused());
  // A hint past the rejected index cannot move next forward.
  pr.sent_append(LogIndex(4), true);
  EXPECT_TRUE(pr.maybe_decrease_to(LogIndex(3), LogIndex(50)));
  EXPECT_EQ(pr.next, LogIndex(3));
}

TEST(Progress, Section5_3_RejectionNeverMovesNextBelowMatch) {
  Progress pr(LogIndex(1), 8);
  pr.maybe_update(LogIndex(6));
  pr.become_probe();
  EXPECT_EQ(pr.next, LogIndex(7));
  pr.sent_append(LogIndex(9), true);
  EXPECT_TRUE(pr.maybe_decrease_to(LogIndex(6), LogIndex(0)));
  EXPECT_EQ(pr.next, LogIndex(7));
}

TEST(Progress, Section7_SnapshotStateIsAlwaysPaused) {
  Progress pr(LogIndex(1), 8);
  pr.become_snapshot(LogIndex(20), Term(3));
  EXPECT_TRUE(pr.is_paused());
  EXPECT_EQ(pr.snapshot_index, LogIndex(20));
  EXPECT_EQ(pr.snapshot_offset, 0u);
  // Its acknowledgement of the snapshot moves match; the node then switches it to replicate.
  EXPECT_TRUE(pr.maybe_update(LogIndex(20)));
  pr.become_replicate();
  EXPECT_EQ(pr.next, LogIndex(21));
  EXPECT_FALSE(pr.is_paused());
}

TEST(Progress, DuplicateAckIsNotNews) {
  Progress pr(LogIndex(1), 8);
  EXPECT_TRUE(pr.maybe_update(LogIndex(4)));
  EXPECT_FALSE(pr.maybe_update(LogIndex(4)));
  EXPECT_FALSE(pr.maybe_update(LogIndex(2)));
  EXPECT_EQ(pr.match, LogIndex(4));
}

}  // namespace
}  // namespace castor::raft
