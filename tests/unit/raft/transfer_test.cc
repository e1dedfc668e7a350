// Leadership transfer (thesis 3.10).
#include <gtest/gtest.h>

#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

TEST(Transfer, Thesis3_10_UpToDateTargetGetsTimeoutNowAndWinsTheNextTerm) {
  TestCluster c(3);
  c.elect(1);
  c.clear_sent();
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(2)).is_ok());
  c.process(1);
  // Node 2 already holds the whole log: no catch-up needed.
  EXPECT_EQ(c.count_sent(is_msg(pb::MSG_TIMEOUT_NOW, 1, 2)), 1u);
  c.deliver_all();
  EXPECT_EQ(c.node(2).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).term(), Term(2));
  // It campaigned at once, skipping pre-vote, with votes marked as forced so that followers
  // still inside the old leader's lease answer them (thesis 4.2.3 would otherwise ignore them).
  EXPECT_EQ(c.count_sent(is_type(pb::MSG_PRE_VOTE)), 0u);
  size_t forced = 0;
  for (const auto& m : c.sent()) {
    if (m.type() == pb::MSG_VOTE) {
      EXPECT_EQ(m.context(), "transfer");
      ++forced;
    }
  }
  EXPECT_EQ(forced, 2u);
  c.tick(2);
  c.deliver_all();
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).leader(), NodeId(2));
  EXPECT_EQ(c.node(3).leader(), NodeId(2));
}

TEST(Transfer, Thesis3_10_LaggingTargetIsCaughtUpBeforeTimeoutNow) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.node(1).propose("w" + std::to_string(i)).is_ok());
    c.process(1);
  }
  c.deliver_all();
  c.heal();
  c.clear_sent();
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
  c.process(1);
  EXPECT_EQ(c.count_sent(is_type(pb::MSG_TIMEOUT_NOW)), 0u) << "node 3 would lose: its log is behind";
  const LogIndex last = c.node(1).last_index();
  c.deliver_all();
  // TIMEOUT_NOW went out only after node 3 acknowledged the leader's last entry.
  const auto& sent = c.sent();
  size_t timeout_at = sent.size(), caught_up_at = sent.size();
  for (size_t i = 0; i < sent.size(); ++i) {
    const auto& m = sent[i];
    if (m.type() == pb::MSG_TIMEOUT_NOW && timeout_at == sent.size()) timeout_at = i;
    if (m.type() == pb::MSG_APP_RESP && m.from() == 3 && !m.reject() && m.index() == last.value &&
        caught_up_at == sent.size()) {
      caught_up_at = i;
    }
  }
  ASSERT_LT(timeout_at, sent.size());
  EXPECT_LT(caught_up_at, timeout_at);
  EXPECT_EQ(c.node(3).role(), Role::kLeader);
  EXPECT_EQ(c.node(3).term(), Term(2));
}

TEST(Transfer, Thesis3_10_ProposalsAreDroppedDuringATransfer) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  ASSERT_TRUE(c.node(1).propose("before").is_ok());
  c.process(1);
  c.deliver_all();
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
  c.process(1);
  // New writes would only make the target lag further behind (and may be lost with the term).
  Result<Proposal> p = c.node(1).propose("during");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), Code::kDropped);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

TEST(Transfer, Thesis3_10_TransferIsAbandonedAfterAnElectionTimeout) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);  // the target never catches up
  ASSERT_TRUE(c.node(1).propose("before").is_ok());
  c.process(1);
  c.deliver_all();
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
  c.process(1);
  const uint32_t t = c.config(1).election_timeout_ticks;
  for (uint32_t i = 0; i + 1 < t; ++i) {
    c.tick(1);
    c.tick(2);
    c.deliver_all();
  }
  EXPECT_EQ(c.node(1).propose("still transferring").status().code(), Code::kDropped);
  c.tick(1);
  c.tick(2);
  c.deliver_all();
  // After a full election timeout the old leader gives up and serves again (node 2 keeps
  // check-quorum satisfied).
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_TRUE(c.node(1).propose("after").is_ok());
  EXPECT_EQ(c.count_sent(is_type(pb::MSG_TIMEOUT_NOW)), 0u);
}

TEST(Transfer, Thesis3_10_RepeatedRequestDoesNotPostponeAbandonment) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);  // the target never catches up
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
  c.process(1);
  const uint32_t t = c.config(1).election_timeout_ticks;
  // The host (an operator's retrying CLI, say) repeats the request while it is under way. The
  // transfer must still end one election timeout after it began: otherwise proposals stay
  // Dropped for as long as the retries go on.
  for (uint32_t i = 0; i < t; ++i) {
    if (i % 3 == 2) {
      ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
      c.process(1);
    }
    c.tick(1);
    c.tick(2);
    c.deliver_all();
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_TRUE(c.node(1).propose("after").is_ok());
}

TEST(Transfer, Thesis6_2_RetriedTransferRequestsDoNotKeepACutOffLeaderInPower) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(1);
  const uint32_t t = c.config(1).election_timeout_ticks;
  // A leader cut off from everyone, whose host keeps asking it to hand over to node 2, must
  // still step down by check-quorum (thesis 6.2) within a few timeouts.
  for (uint32_t i = 0; i < 3 * t; ++i) {
    if (i % 5 == 0 && c.node(1).role() == Role::kLeader) {
      ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(2)).is_ok());
      c.process(1);
    }
    c.tick(1);
  }
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
}

TEST(Transfer, Thesis3_10_RequestsThatAreNotTransfers) {
  TestCluster c(3);
  c.elect(1);
  EXPECT_EQ(c.node(2).transfer_leadership(NodeId(3)).code(), Code::kNotLeader);
  EXPECT_EQ(c.node(1).transfer_leadership(NodeId(9)).code(), Code::kInvalidArgument);
  EXPECT_TRUE(c.node(1).transfer_leadership(NodeId(1)).is_ok());  // already there
  EXPECT_TRUE(c.node(1).propose("x").is_ok());                    // and no transfer under way
}

}  // namespace
}  // namespace castor::raft
