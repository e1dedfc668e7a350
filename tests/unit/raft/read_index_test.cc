// Linearizable reads by ReadIndex (thesis 6.4): ReadIndexQueue and the Node protocol.
#include "raft/read_index.h"

#include <gtest/gtest.h>

#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

TEST(ReadIndexQueue, Thesis6_4_ReadsBetweenFlushesShareOneRound) {
  ReadIndexQueue q;
  EXPECT_EQ(q.flush(), 0u);  // no reads, no round (and no heartbeat)
  EXPECT_EQ(q.last_round(), 0u);
  q.add(LogIndex(5), {"a", NodeId(1)});
  q.add(LogIndex(5), {"b", NodeId(2)});
  EXPECT_TRUE(q.has_unflushed());
  EXPECT_EQ(q.flush(), 1u);
  EXPECT_FALSE(q.has_unflushed());
  q.add(LogIndex(7), {"c", NodeId(1)});
  EXPECT_EQ(q.flush(), 2u);
  EXPECT_EQ(q.last_round(), 2u);

  // An acknowledgement of round 0 (a heartbeat sent before any read arrived) confirms nothing.
  EXPECT_TRUE(q.release(0).empty());
  auto r1 = q.release(1);
  ASSERT_EQ(r1.size(), 2u);
  EXPECT_EQ(r1[0].request.context, "a");
  EXPECT_EQ(r1[1].request.context, "b");
  EXPECT_EQ(r1[1].request.from, NodeId(2));
  EXPECT_EQ(r1[0].index, LogIndex(5));
  EXPECT_TRUE(q.release(1).empty());  // released once
  auto r2 = q.release(2);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].index, LogIndex(7));
}

TEST(ReadIndexQueue, Thesis6_4_LaterRoundAckConfirmsEarlierRoundsButNotUnflushedReads) {
  ReadIndexQueue q;
  q.add(LogIndex(1), {"a", NodeId(1)});
  q.flush();
  q.add(LogIndex(2), {"b", NodeId(1)});
  q.flush();
  q.add(LogIndex(3), {"c", NodeId(1)});  // arrived after the last heartbeat went out
  // An ack of round 2 came from a heartbeat sent after "a" and "b" arrived: both are safe.
  auto r = q.release(2);
  ASSERT_EQ(r.size(), 2u);
  // "c" belongs to no round yet: no ack, however high, may release it.
  EXPECT_TRUE(q.release(100).empty());
  q.clear();
  EXPECT_FALSE(q.has_unflushed());
  EXPECT_EQ(q.flush(), 0u);
}

TEST(ReadIndexQueue, Thesis6_4_HeldReadsQueueAtTheIndexOfTheLeadersFirstOwnCommit) {
  ReadIndexQueue q;
  q.hold({"a", NodeId(1)});
  EXPECT_FALSE(q.has_unflushed());  // held reads join no round
  EXPECT_EQ(q.flush(), 0u);
  q.own_term_committed(LogIndex(9));
  EXPECT_EQ(q.flush(), 1u);
  auto r = q.release(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].index, LogIndex(9));
  q.hold({"b", NodeId(1)});
  q.clear();  // leadership lost: held reads go too
  q.own_term_committed(LogIndex(10));
  EXPECT_FALSE(q.has_unflushed());
}

TEST(ReadIndexQueue, Thesis6_4_ARoundIsConfirmedOnlyByAMajorityOfAcks) {
  ReadIndexQueue q;
  q.add(LogIndex(4), {"a", NodeId(1)});
  q.flush();
  // The leader (round 1) and one of four followers: two of five is no majority.
  EXPECT_TRUE(q.release_confirmed({1, 1, 0, 0, 0}).empty());
  EXPECT_EQ(q.release_confirmed({1, 1, 0, 0, 1}).size(), 1u);
}

TEST(ReadIndex, Thesis6_4_LeaderReleasesAReadOnlyAfterAMajorityAcksAHeartbeatRound) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").is_ok());
  c.process(1);
  c.deliver_all();
  const LogIndex commit = c.node(1).committed();
  c.clear_sent();

  ASSERT_TRUE(c.node(1).read_index("r1").is_ok());
  c.process(1);
  // The read opened a round: one heartbeat per follower, carrying the round number.
  std::vector<pb::Message> hbs = c.take(is_type(pb::MSG_HEARTBEAT));
  ASSERT_EQ(hbs.size(), 2u);
  EXPECT_GE(hbs[0].read_round(), 1u);
  EXPECT_TRUE(c.reads(1).empty()) << "released before leadership was confirmed";

  // One follower's ack plus the leader itself is a majority of three.
  const pb::Message& to2 = hbs[0].to() == 2 ? hbs[0] : hbs[1];
  c.deliver(to2);
  EXPECT_TRUE(c.reads(1).empty());
  std::vector<pb::Message> ack = c.take(is_msg(pb::MSG_HEARTBEAT_RESP, 2, 1));
  ASSERT_EQ(ack.size(), 1u);
  c.deliver(ack[0]);
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].context, "r1");
  EXPECT_EQ(c.reads(1)[0].index, commit);  // the commit index when the read arrived
}

TEST(ReadIndex, Thesis6_4_ManyReadsShareOneHeartbeatRound) {
  TestCluster c(3);
  c.elect(1);
  c.clear_sent();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.node(1).read_index("r" + std::to_string(i)).is_ok());
  c.process(1);
  c.deliver_all();
  // Ten reads, one round: a heartbeat to each of the two followers, not twenty.
  EXPECT_EQ(c.count_sent(is_type(pb::MSG_HEARTBEAT)), 2u);
  ASSERT_EQ(c.reads(1).size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.reads(1)[i].context, "r" + std::to_string(i));
}

TEST(ReadIndex, Thesis6_4_AnAckOfAnEarlierRoundDoesNotReleaseALaterRead) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).read_index("first").is_ok());
  c.process(1);
  std::vector<pb::Message> round1 = c.take(is_type(pb::MSG_HEARTBEAT));
  ASSERT_EQ(round1.size(), 2u);
  ASSERT_TRUE(c.node(1).read_index("second").is_ok());
  c.process(1);
  std::vector<pb::Message> round2 = c.take(is_type(pb::MSG_HEARTBEAT));
  ASSERT_EQ(round2.size(), 2u);
  ASSERT_GT(round2[0].read_round(), round1[0].read_round());

  // Answers to round 1 confirm leadership as of before "second" arrived: not enough for it.
  for (const auto& m : round1) c.deliver(m);
  c.deliver_all();
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].context, "first");
  for (const auto& m : round2) c.deliver(m);
  c.deliver_all();
  ASSERT_EQ(c.reads(1).size(), 2u);
  EXPECT_EQ(c.reads(1)[1].context, "second");
}

TEST(ReadIndex, Thesis6_4_NewLeaderDelaysReadsUntilItsNoopCommits) {
  TestCluster c(3);
  c.elect(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.node(1).propose("w").is_ok());
  c.process(1);
  c.deliver_all();
  // Node 2 takes over; hold everything once it has won, so its no-op is not yet committed.
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(2)).is_ok());
  c.process(1);
  ASSERT_TRUE(c.deliver_until([&] { return c.node(2).role() == Role::kLeader; }));
  const LogIndex noop = c.node(2).last_index();
  ASSERT_LT(c.node(2).committed(), noop);
  c.clear_sent();

  // Its commit index may be behind the old leader's: a read at it could miss a committed write.
  ASSERT_TRUE(c.node(2).read_index("r").is_ok());
  c.process(2);
  EXPECT_EQ(
      c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_HEARTBEAT && m.read_round() > 0; }),
      0u);
  c.deliver_all();
  ASSERT_EQ(c.node(2).committed(), noop);
  ASSERT_EQ(c.reads(2).size(), 1u);
  EXPECT_EQ(c.reads(2)[0].context, "r");
  EXPECT_GE(c.reads(2)[0].index, noop);
}

TEST(ReadIndex, Thesis6_4_FollowerReadGoesThroughTheLeader) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").is_ok());
  c.process(1);
  c.deliver_all();
  c.clear_sent();
  ASSERT_TRUE(c.node(2).read_index("f").is_ok());
  c.process(2);
  EXPECT_EQ(c.count_sent(is_msg(pb::MSG_READ_INDEX, 2, 1)), 1u);
  c.deliver_all();
  EXPECT_EQ(c.count_sent(is_msg(pb::MSG_READ_INDEX_RESP, 1, 2)), 1u);
  ASSERT_EQ(c.reads(2).size(), 1u);
  EXPECT_EQ(c.reads(2)[0].context, "f");
  EXPECT_EQ(c.reads(2)[0].index, c.node(1).committed());
  EXPECT_TRUE(c.reads(1).empty());  // the leader answered the follower, not its own host
}

TEST(ReadIndex, Thesis6_4_FollowerWithoutALeaderRefusesReads) {
  TestCluster c(3);
  Status s = c.node(2).read_index("r");
  EXPECT_EQ(s.code(), Code::kNotLeader);
}

TEST(ReadIndex, Thesis6_4_LeaderCutOffFromTheMajorityNeverReleasesARead) {
  // Without check-quorum, so the partitioned leader keeps its role as long as the test runs.
  TestCluster c(3, [](Config& cfg) { cfg.check_quorum = false; });
  c.elect(1);
  c.isolate(1);
  ASSERT_TRUE(c.node(1).read_index("r").is_ok());
  c.process(1);
  for (int i = 0; i < 100; ++i) {
    c.tick(1);
    c.deliver_all();
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_TRUE(c.reads(1).empty());
}

TEST(ReadIndex, Thesis6_4_ReadsPendingWhenTheLeaderStepsDownAreNeverReleased) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(1);
  ASSERT_TRUE(c.node(1).read_index("r").is_ok());
  c.process(1);
  for (uint32_t i = 0; i < 2 * c.config(1).election_timeout_ticks; ++i) c.tick(1);
  ASSERT_EQ(c.node(1).role(), Role::kFollower);  // check-quorum (thesis 6.2)
  c.heal();
  c.in_flight().clear();
  for (int i = 0; i < 40; ++i) c.tick_all_and_deliver();
  EXPECT_TRUE(c.reads(1).empty());
}

TEST(ReadIndex, Thesis6_4_SingleNodeReleasesAtOnce) {
  TestCluster c(1);
  c.elect(1);
  ASSERT_TRUE(c.node(1).read_index("solo").is_ok());
  c.process(1);
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].index, c.node(1).committed());
}

}  // namespace
}  // namespace castor::raft
