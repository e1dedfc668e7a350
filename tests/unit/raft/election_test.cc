// Leader election (paper 5.2, 5.4.1), pre-vote (thesis 9.6), check-quorum (thesis 6.2) and
// leader stickiness (thesis 4.2.3).
#include <gtest/gtest.h>

#include <set>

#include "raft/memory_log.h"
#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

pb::Message vote_request(uint64_t from, uint64_t to, uint64_t term, uint64_t last_index, uint64_t last_term,
                         pb::MessageType type = pb::MSG_VOTE) {
  pb::Message m = msg(type, from, to, term);
  m.set_index(last_index);
  m.set_log_term(last_term);
  return m;
}

// The vote responses in a Ready, wherever they were put.
std::vector<pb::Message> vote_responses(const std::vector<pb::Message>& msgs) {
  return of_type(msgs, pb::MSG_VOTE_RESP);
}

TEST(Election, Section5_2_FollowerTimesOutAndWinsWithAMajority) {
  TestCluster c(3);
  c.isolate(3);  // a majority (1 and 2) is enough
  int ticks = 0;
  while (c.node(1).role() == Role::kFollower && ticks < 100) {
    c.tick(1);
    ++ticks;
  }
  c.deliver_all();
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), Term(1));
  EXPECT_EQ(c.node(2).leader(), NodeId(1));
  EXPECT_EQ(c.node(2).term(), Term(1));
  // Node 3 heard nothing and is unaffected.
  EXPECT_EQ(c.node(3).term(), Term(0));
  EXPECT_EQ(c.node(3).leader(), kNoNode);
}

TEST(Election, Section5_2_RandomizedElectionTimeoutIsInTTo2T) {
  constexpr uint32_t kT = 10;
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    MemoryLog log(conf_of(3));
    Config cfg = config_for(2);
    cfg.election_timeout_ticks = kT;
    cfg.random_seed = seed;
    Node n(cfg, log);
    int ticks = 0;
    while (n.role() == Role::kFollower && ticks < 100) {
      n.tick();
      ++ticks;
    }
    EXPECT_GE(ticks, static_cast<int>(kT)) << "seed " << seed;
    EXPECT_LT(ticks, static_cast<int>(2 * kT)) << "seed " << seed;
    seen.insert(ticks);
  }
  // Randomized, not a constant: split votes become rare only if the timeouts differ.
  EXPECT_GE(seen.size(), 5u);
}

TEST(Election, Section5_2_OneVotePerTermFirstComeFirstServed) {
  MemoryLog log(conf_of(3));
  Node n(config_for(3, /*pre_vote=*/false), log);
  step_ok(n, vote_request(1, 3, 1, 0, 0));
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(vote_responses(rd.messages).size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());

  // A second candidate of the same term is refused: the vote is spent.
  step_ok(n, vote_request(2, 3, 1, 0, 0));
  rd = handle_ready(n, log);
  ASSERT_EQ(vote_responses(rd.messages).size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());
  EXPECT_EQ(n.term(), Term(1));

  // The same candidate asking again (its response was lost) is granted again.
  step_ok(n, vote_request(1, 3, 1, 0, 0));
  rd = handle_ready(n, log);
  ASSERT_EQ(vote_responses(rd.messages).size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());

  // A new term brings a new vote.
  step_ok(n, vote_request(2, 3, 2, 0, 0));
  rd = handle_ready(n, log);
  ASSERT_EQ(vote_responses(rd.messages).size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());
  EXPECT_EQ(log.hard_state().vote(), 2u);
  EXPECT_EQ(log.hard_state().term(), 2u);
}

TEST(Election, Section5_4_1_RejectsVoteForStaleLog) {
  MemoryLog log(conf_of(3));
  log.append(hard_state(2, 0, 0), {entry(1, 1), entry(2, 2)});  // last (2, t2)
  Node n(config_for(3, /*pre_vote=*/false), log);

  // Older last term, same length: stale.
  step_ok(n, vote_request(1, 3, 3, 2, 1));
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());
  // Paper 5.1: the higher term is adopted even though the vote is refused.
  EXPECT_EQ(n.term(), Term(3));
  EXPECT_EQ(log.hard_state().vote(), 0u);

  // Same last term, shorter: stale.
  step_ok(n, vote_request(2, 3, 3, 1, 2));
  rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());

  // At least as up-to-date: granted (the vote of term 3 was still free).
  step_ok(n, vote_request(2, 3, 3, 2, 2));
  rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());
}

TEST(Election, Section5_2_VoteGrantIsSentOnlyAfterTheVoteIsPersisted) {
  MemoryLog log(conf_of(3));
  Node n(config_for(3, /*pre_vote=*/false), log);
  step_ok(n, vote_request(1, 3, 1, 0, 0));
  Ready rd = n.ready();
  // Figure 2 / DESIGN.md 4: a grant sent before the vote is durable could let a crash-restarted
  // voter vote twice in one term. So the grant rides in `messages` (sent after persisting), in
  // the same Ready as the hard state that records it, and never in `early_messages`.
  EXPECT_TRUE(vote_responses(rd.early_messages).empty());
  ASSERT_EQ(vote_responses(rd.messages).size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), 1u);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  n.advance(rd);
}

TEST(Election, Section5_2_CandidateVotesForItselfDurablyBeforeAskingOthers) {
  MemoryLog log(conf_of(3));
  Node n(config_for(1, /*pre_vote=*/false), log);
  n.campaign_now();
  EXPECT_EQ(n.role(), Role::kCandidate);
  Ready rd = n.ready();
  EXPECT_TRUE(rd.early_messages.empty());
  EXPECT_EQ(of_type(rd.messages, pb::MSG_VOTE).size(), 2u);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), 1u);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  n.advance(rd);
}

TEST(Election, Section5_2_CandidateStepsDownOnAppendFromLeaderOfSameTerm) {
  MemoryLog log(conf_of(3));
  Node n(config_for(1, /*pre_vote=*/false), log);
  n.campaign_now();
  handle_ready(n, log);
  ASSERT_EQ(n.role(), Role::kCandidate);
  ASSERT_EQ(n.term(), Term(1));

  pb::Message app = msg(pb::MSG_APP, 2, 1, 1);  // node 2 won term 1
  step_ok(n, app);
  EXPECT_EQ(n.role(), Role::kFollower);
  EXPECT_EQ(n.term(), Term(1));
  EXPECT_EQ(n.leader(), NodeId(2));
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(of_type(rd.messages, pb::MSG_APP_RESP).size(), 1u);
  EXPECT_FALSE(of_type(rd.messages, pb::MSG_APP_RESP)[0].reject());
  // It keeps its vote for itself: the term did not change.
  EXPECT_EQ(log.hard_state().vote(), 1u);
}

TEST(Election, Section5_1_HigherTermMakesAStaleLeaderStepDown) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(1);
  // Node 1 keeps believing it leads (it does not tick, so check-quorum never fires); it takes a
  // write that can never commit.
  ASSERT_TRUE(c.node(1).propose("lost").is_ok());
  c.process(1);
  // Nodes 2 and 3 time out and elect a leader of term 2.
  for (int i = 0; i < 100 && c.node(2).role() != Role::kLeader && c.node(3).role() != Role::kLeader; ++i) {
    c.tick(2);
    c.tick(3);
    c.deliver_all();
  }
  const uint64_t new_leader = c.node(2).role() == Role::kLeader ? 2 : 3;
  ASSERT_EQ(c.node(new_leader).role(), Role::kLeader);
  ASSERT_EQ(c.node(new_leader).term(), Term(2));
  EXPECT_EQ(c.node(1).role(), Role::kLeader);

  // Healed, the stale leader's heartbeat is answered with term 2 and it steps down at once.
  c.heal();
  c.in_flight().clear();
  c.tick(1);
  c.deliver_all();
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).term(), Term(2));
  // The new leader then repairs its log: the uncommitted write of term 1 is overwritten.
  c.tick(new_leader);
  c.deliver_all();
  EXPECT_EQ(c.node(1).leader(), NodeId(new_leader));
  EXPECT_EQ(c.node(1).last_index(), c.node(new_leader).last_index());
  EXPECT_EQ(c.node(1).term_at(LogIndex(2)), Term(2));
  for (const auto& e : c.applied(1)) EXPECT_NE(e.data(), "lost");
}

TEST(PreVote, Thesis9_6_PartitionedNodeRaisesNeitherItsTermNorAnyones) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 100; ++i) c.tick_all_and_deliver();
  // Node 3 campaigned many times, but only with pre-votes, which change no term.
  EXPECT_GT(c.count_sent(is_msg(pb::MSG_PRE_VOTE, 3, 1)), 0u);
  EXPECT_EQ(c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_VOTE; }),
            2u);  // elect(1) only
  EXPECT_EQ(c.node(3).term(), Term(1));

  c.heal();
  for (int i = 0; i < 30; ++i) c.tick_all_and_deliver();
  // Rejoining does not disturb the healthy leader: still term 1, still node 1.
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(c.node(id).term(), Term(1)) << "node " << id;
    EXPECT_EQ(c.node(id).leader(), NodeId(1)) << "node " << id;
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

TEST(PreVote, Thesis9_6_WithoutPreVoteAPartitionedNodeInflatesItsTerm) {
  // The contrast that motivates 9.6: the same partition with plain elections.
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 100; ++i) c.tick_all_and_deliver();
  EXPECT_GT(c.node(3).term(), Term(3));
}

TEST(PreVote, Thesis9_6_PreVoteGrantChangesNoTermOrVote) {
  MemoryLog log(conf_of(3));
  log.append(hard_state(4, 0, 0), {});
  Node n(config_for(2), log);
  step_ok(n, vote_request(1, 2, 5, 0, 0, pb::MSG_PRE_VOTE));
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(of_type(rd.messages, pb::MSG_PRE_VOTE_RESP).size(), 1u);
  const pb::Message resp = of_type(rd.messages, pb::MSG_PRE_VOTE_RESP)[0];
  EXPECT_FALSE(resp.reject());
  EXPECT_EQ(resp.term(), 5u);    // answers in the term asked about...
  EXPECT_EQ(n.term(), Term(4));  // ...without moving to it
  EXPECT_EQ(log.hard_state().term(), 4u);
  EXPECT_EQ(log.hard_state().vote(), 0u);
}

TEST(CheckQuorum, Thesis6_2_LeaderThatHearsFromNoMajorityStepsDown) {
  TestCluster c(3);
  c.elect(1);
  const uint32_t t = c.config(1).election_timeout_ticks;
  // Connected, it stays leader indefinitely.
  for (uint32_t i = 0; i < 5 * t; ++i) c.tick_all_and_deliver();
  ASSERT_EQ(c.node(1).role(), Role::kLeader);

  c.isolate(1);
  // The check at the end of the current timeout still counts what it heard before the cut; the
  // next one finds nobody and the leader steps down. It must not keep leading for longer.
  for (uint32_t i = 0; i < 2 * t; ++i) c.tick(1);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.node(1).leader(), kNoNode);
  EXPECT_EQ(c.node(1).term(), Term(1));  // stepping down is not a new term
}

TEST(CheckQuorum, Thesis6_2_LeaderStaysWhileAMajorityAnswers) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  const uint32_t t = c.config(1).election_timeout_ticks;
  for (uint32_t i = 0; i < 5 * t; ++i) {
    c.tick(1);
    c.tick(2);
    c.deliver_all();
  }
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

TEST(Stickiness, Thesis4_2_3_FollowerWithRecentLeaderIgnoresHigherTermVote) {
  TestCluster c(3);
  c.elect(1);
  c.clear_sent();
  // Node 3 (say, just back from a partition without pre-vote) asks node 2 for a vote in term 5.
  c.deliver(vote_request(3, 2, 5, c.node(3).last_index().value, 1));
  EXPECT_EQ(c.node(2).term(), Term(1));
  EXPECT_EQ(c.node(2).leader(), NodeId(1));
  EXPECT_EQ(c.count_sent(is_msg(pb::MSG_VOTE_RESP, 2, 3)), 0u);  // not even a rejection
  // The leader itself is equally deaf to it while its lease holds.
  c.deliver(vote_request(3, 1, 5, c.node(3).last_index().value, 1));
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).term(), Term(1));
}

TEST(Stickiness, Thesis3_10_TransferForcedVoteIsHonouredDuringTheLease) {
  TestCluster c(3);
  c.elect(1);
  c.clear_sent();
  pb::Message forced = vote_request(3, 2, 5, c.node(3).last_index().value, 1);
  forced.set_context("transfer");
  c.deliver(forced);
  EXPECT_EQ(c.node(2).term(), Term(5));
  ASSERT_EQ(c.count_sent(is_msg(pb::MSG_VOTE_RESP, 2, 3)), 1u);
  EXPECT_FALSE(of_type(c.sent(), pb::MSG_VOTE_RESP)[0].reject());
  EXPECT_EQ(c.log(2).hard_state().vote(), 3u);
}

TEST(Stickiness, Thesis4_2_3_VoteIsHonouredOnceTheLeaderHasBeenSilentForATimeout) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.elect(1);
  // Node 2 hears nothing for an election timeout (we tick it alone; node 1 is silent).
  for (uint32_t i = 0; i < c.config(2).election_timeout_ticks; ++i) c.node(2).tick();
  c.process(2);
  c.in_flight().clear();
  c.clear_sent();
  // Node 2's own timer (seed 2) has not fired yet; it is a follower whose lease has expired.
  ASSERT_EQ(c.node(2).role(), Role::kFollower);
  c.deliver(vote_request(3, 2, 5, c.node(3).last_index().value, 1));
  EXPECT_EQ(c.node(2).term(), Term(5));
  EXPECT_EQ(c.count_sent(is_msg(pb::MSG_VOTE_RESP, 2, 3)), 1u);
}

}  // namespace
}  // namespace castor::raft
