// Log replication (paper 5.3, thesis 10.2.1), commitment (paper 5.4.2) and proposals.
#include <gtest/gtest.h>

#include "raft/memory_log.h"
#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

pb::Message append(uint64_t from, uint64_t to, uint64_t term, uint64_t prev_index, uint64_t prev_term,
                   std::vector<pb::Entry> entries = {}, uint64_t commit = 0) {
  pb::Message m = msg(pb::MSG_APP, from, to, term);
  m.set_index(prev_index);
  m.set_log_term(prev_term);
  m.set_commit(commit);
  for (auto& e : entries) *m.add_entries() = std::move(e);
  return m;
}

// Writes entries with these terms at indexes 1, 2, ... into a node's durable log.
void seed_log(MemoryLog& log, const std::vector<uint64_t>& terms, pb::HardState hs) {
  std::vector<pb::Entry> es;
  for (size_t i = 0; i < terms.size(); ++i)
    es.push_back(entry(i + 1, terms[i], "t" + std::to_string(terms[i])));
  log.append(hs, es);
}

void expect_same_log(TestCluster& c, uint64_t a, uint64_t b) {
  ASSERT_EQ(c.node(a).last_index(), c.node(b).last_index());
  for (LogIndex i(1); i <= c.node(a).last_index(); ++i) {
    EXPECT_EQ(c.node(a).term_at(i), c.node(b).term_at(i)) << "index " << i.value;
  }
}

TEST(Replication, Section5_3_ConsistencyCheckRejectsWithAHint) {
  MemoryLog log(conf_of(3));
  seed_log(log, {1, 1, 2}, hard_state(3, 0, 0));
  Node n(config_for(2), log);

  // prev beyond our log: the hint is our last index, so the leader can jump straight there.
  step_ok(n, append(1, 2, 3, 5, 3));
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  const pb::Message& r1 = rd.messages[0];
  EXPECT_EQ(r1.type(), pb::MSG_APP_RESP);
  EXPECT_TRUE(r1.reject());
  EXPECT_EQ(r1.index(), 5u);  // which append is being rejected
  EXPECT_EQ(r1.reject_hint(), 3u);
  EXPECT_EQ(r1.log_term(), 2u);  // and the term we hold there

  // prev present with another term: the hint skips our entries of terms above the leader's.
  step_ok(n, append(1, 2, 3, 3, 1));
  rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject());
  EXPECT_EQ(rd.messages[0].reject_hint(), 2u);
  EXPECT_EQ(rd.messages[0].log_term(), 1u);
  // A rejected append changes nothing.
  EXPECT_EQ(log.last_index(), LogIndex(3));
  EXPECT_EQ(n.term_at(LogIndex(3)), Term(2));
}

TEST(Replication, Section5_3_ConflictingSuffixIsTruncated) {
  MemoryLog log(conf_of(3));
  seed_log(log, {1, 2, 2, 2}, hard_state(2, 0, 1));
  Node n(config_for(2), log);
  step_ok(n, append(1, 2, 3, 1, 1, {entry(2, 3, "x")}, 1));
  Ready rd = handle_ready(n, log);
  // Index 2 conflicts: it and everything after it (3, 4) go, not just index 2 (paper 5.3).
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(log.last_index(), LogIndex(2));
  EXPECT_EQ(log.term(LogIndex(2)), Term(3));
  EXPECT_EQ(n.last_index(), LogIndex(2));
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_FALSE(rd.messages[0].reject());
  EXPECT_EQ(rd.messages[0].index(), 2u);
}

TEST(Replication, Section5_3_DuplicateAppendDoesNotTruncateNewerEntries) {
  MemoryLog log(conf_of(3));
  seed_log(log, {1, 1, 1}, hard_state(1, 0, 0));
  Node n(config_for(2), log);
  // A delayed copy of an older append carrying only [2]: entry 3 must survive.
  step_ok(n, append(1, 2, 1, 1, 1, {entry(2, 1, "t1")}));
  Ready rd = handle_ready(n, log);
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_EQ(log.last_index(), LogIndex(3));
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].index(), 2u);  // acknowledges what that append proved, no more
}

TEST(Replication, Section5_3_FastBacktrackingConvergesALongConflictingTailInTwoRoundTrips) {
  // History: term 1 wrote index 1 everywhere. Node 3 led term 2 and appended 50 entries nobody
  // else got. Nodes 1 and 2 then wrote 10 entries of term 3. Node 1 now wins term 4.
  TestCluster c(3);
  std::vector<uint64_t> leader_terms{1};
  for (int i = 0; i < 10; ++i) leader_terms.push_back(3);
  std::vector<uint64_t> stale_terms{1};
  for (int i = 0; i < 50; ++i) stale_terms.push_back(2);
  seed_log(c.log(1), leader_terms, hard_state(3, 1, 1));
  seed_log(c.log(2), leader_terms, hard_state(3, 1, 1));
  seed_log(c.log(3), stale_terms, hard_state(2, 3, 1));
  for (uint64_t id = 1; id <= 3; ++id) c.restart(id);

  c.elect(1);
  ASSERT_EQ(c.node(1).term(), Term(4));
  expect_same_log(c, 1, 3);
  EXPECT_EQ(c.log(3).last_index(), LogIndex(12));  // the 50-entry tail is gone from disk too
  EXPECT_EQ(c.log(3).term(LogIndex(12)), Term(4));

  // One-entry-at-a-time backtracking would need ~50 rejected appends (or ~10 by the leader's
  // own index); skipping the whole conflicting term takes one rejection and one good append.
  EXPECT_EQ(c.count_sent([](const pb::Message& m) {
    return m.type() == pb::MSG_APP_RESP && m.from() == 3 && m.reject();
  }),
            1u);
  EXPECT_EQ(c.count_sent([](const pb::Message& m) {
    return m.type() == pb::MSG_APP && m.to() == 3 && m.entries_size() > 0;
  }),
            2u);
}

TEST(Replication, Section5_3_ProgressProbesThenReplicates) {
  TestCluster c(3);
  c.node(1).campaign_now();
  c.process(1);
  ASSERT_TRUE(c.deliver_until([&] { return c.node(1).role() == Role::kLeader; }));
  // A new leader does not know where followers' logs match: it probes, one append at a time.
  const Progress& pr = c.node(1).progress().at(NodeId(2));
  EXPECT_EQ(pr.state, Progress::State::kProbe);
  EXPECT_EQ(c.take(is_msg(pb::MSG_APP, 1, 2)).size(), 1u);  // held: the probe is in flight
  ASSERT_TRUE(c.node(1).propose("a").is_ok());
  ASSERT_TRUE(c.node(1).propose("b").is_ok());
  c.process(1);
  EXPECT_EQ(c.take(is_msg(pb::MSG_APP, 1, 2)).size(), 0u) << "a probing leader must wait for the answer";

  // The next heartbeat answer lets it probe again; once an append is accepted it streams.
  c.tick(1);
  c.deliver_all();
  EXPECT_EQ(c.node(1).progress().at(NodeId(2)).state, Progress::State::kReplicate);
  EXPECT_EQ(c.node(1).progress().at(NodeId(2)).match, c.node(1).last_index());
  expect_same_log(c, 1, 2);
}

TEST(Replication, Thesis10_2_1_InflightWindowBoundsUnackedAppendsAndHeartbeatAckFreesASlot) {
  TestCluster c(3, [](Config& cfg) { cfg.inflight_appends_max = 2; });
  c.elect(1);
  ASSERT_EQ(c.node(1).progress().at(NodeId(2)).state, Progress::State::kReplicate);
  c.clear_sent();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.node(1).propose("p" + std::to_string(i)).is_ok());
    c.process(1);
  }
  // Nothing is acknowledged yet: only two appends may be outstanding to node 2.
  std::vector<pb::Message> to2 = c.take(is_msg(pb::MSG_APP, 1, 2));
  ASSERT_EQ(to2.size(), 2u);
  EXPECT_EQ(c.node(1).progress().at(NodeId(2)).next, LogIndex(to2.back().entries(0).index() + 1));

  // The appends may be lost; a heartbeat answer shows node 2 alive and frees one slot, and the
  // one append that goes out carries everything not yet sent.
  c.tick(1);
  std::vector<pb::Message> hb = c.take(is_msg(pb::MSG_HEARTBEAT, 1, 2));
  ASSERT_EQ(hb.size(), 1u);
  c.deliver(hb[0]);
  std::vector<pb::Message> hb_resp = c.take(is_msg(pb::MSG_HEARTBEAT_RESP, 2, 1));
  ASSERT_EQ(hb_resp.size(), 1u);
  c.deliver(hb_resp[0]);
  std::vector<pb::Message> more = c.take(is_msg(pb::MSG_APP, 1, 2));
  ASSERT_EQ(more.size(), 1u);
  ASSERT_EQ(more[0].entries_size(), 3);
  EXPECT_EQ(more[0].entries(2).index(), c.node(1).last_index().value);

  // Node 2 never saw the first two appends; the gap turns into a rejection, a probe and repair.
  c.deliver(more[0]);
  c.deliver_all();
  for (int i = 0; i < 3; ++i) c.tick_all_and_deliver();
  expect_same_log(c, 1, 2);
  EXPECT_EQ(c.node(2).committed(), c.node(1).last_index());
}

TEST(Replication, Section5_3_AppendBytesMaxBoundsMessagesButSendsAtLeastOneEntry) {
  TestCluster c(3, [](Config& cfg) { cfg.append_bytes_max = 100; });
  c.elect(1);
  c.isolate(2);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.node(1).propose(std::string(60, 'a' + i)).is_ok());
    c.process(1);
  }
  ASSERT_TRUE(c.node(1).propose(std::string(250, 'z')).is_ok());  // alone larger than the limit
  c.process(1);
  c.deliver_all();
  c.heal();
  c.clear_sent();
  for (int i = 0; i < 10; ++i) c.tick_all_and_deliver();
  expect_same_log(c, 1, 2);

  size_t with_entries = 0;
  bool big_one_sent = false;
  for (const auto& m : c.sent()) {
    if (m.type() != pb::MSG_APP || m.to() != 2 || m.entries_size() == 0) continue;
    ++with_entries;
    uint64_t bytes = 0;
    for (const auto& e : m.entries()) bytes += e.data().size();
    EXPECT_TRUE(m.entries_size() == 1 || bytes <= 100)
        << m.entries_size() << " entries, " << bytes << " bytes";
    if (m.entries(0).data().size() == 250) big_one_sent = true;
  }
  EXPECT_GE(with_entries, 5u);  // 60 + 60 > 100: one catch-up entry per message
  EXPECT_TRUE(big_one_sent);
}

TEST(Replication, Thesis10_2_1_LeaderSendsAppendsBeforeItsFsyncButCountsItselfOnlyAfterAdvance) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);  // so that commit needs the leader's own vote: {1, 2}
  const LogIndex before = c.node(1).committed();
  Result<Proposal> p = c.node(1).propose("x");
  ASSERT_TRUE(p.is_ok());

  Ready rd = c.node(1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  std::vector<pb::Message> early = of_type(rd.early_messages, pb::MSG_APP);
  ASSERT_EQ(early.size(), 2u);  // to 2 and 3, before the leader's own write
  EXPECT_TRUE(of_type(rd.messages, pb::MSG_APP).empty());
  for (const auto& m : early) ASSERT_EQ(m.entries(0).index(), p->index.value);

  // Node 2 persists and acknowledges while the leader's write is still in flight.
  const pb::Message& to2 = early[0].to() == 2 ? early[0] : early[1];
  c.deliver(to2);
  std::vector<pb::Message> ack = c.take(is_msg(pb::MSG_APP_RESP, 2, 1));
  ASSERT_EQ(ack.size(), 1u);
  step_ok(c.node(1), ack[0]);
  // A majority is {1, 2}, but 1 has not made "x" durable: not committed.
  EXPECT_EQ(c.node(1).committed(), before);

  c.log(1).append(rd.hard_state, rd.entries);
  c.node(1).advance(rd);
  EXPECT_EQ(c.node(1).committed(), p->index);
}

TEST(Commitment, Section5_4_2_EveryTermStartsWithANoop) {
  TestCluster c(3);
  c.elect(1);
  const LogIndex noop = c.node(1).last_index();
  EXPECT_EQ(c.node(1).term_at(noop), Term(1));
  ASSERT_FALSE(c.applied(1).empty());
  EXPECT_EQ(c.applied(1).back().type(), pb::ENTRY_NOOP);
  // Committed without any client write.
  EXPECT_EQ(c.node(1).committed(), noop);

  // The next leader, too, opens its term with a no-op.
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(2)).is_ok());
  c.process(1);
  c.deliver_all();
  ASSERT_EQ(c.node(2).role(), Role::kLeader);
  const LogIndex noop2 = c.node(2).last_index();
  EXPECT_EQ(noop2, noop + 1);
  EXPECT_EQ(c.node(2).term_at(noop2), Term(2));
  EXPECT_EQ(c.node(2).committed(), noop2);
  EXPECT_EQ(c.applied(2).back().type(), pb::ENTRY_NOOP);
}

TEST(Commitment, Section5_4_2_OldTermEntryOnAMajorityIsNotCommittedUntilACurrentTermEntryIs) {
  // Figure 8: node 1 led term 2 and wrote (2, t2) only on itself; it now wins term 3. The
  // network strips every term-3 entry from appends, so (2, t2) reaches the followers but the
  // term-3 no-op does not.
  TestCluster c(3);
  seed_log(c.log(1), {1, 2}, hard_state(2, 1, 1));
  seed_log(c.log(2), {1}, hard_state(2, 0, 1));
  seed_log(c.log(3), {1}, hard_state(2, 0, 1));
  for (uint64_t id = 1; id <= 3; ++id) c.restart(id);
  c.set_rewrite([](pb::Message& m) {
    if (m.type() != pb::MSG_APP) return;
    auto* es = m.mutable_entries();
    while (!es->empty() && es->rbegin()->term() == 3) es->RemoveLast();
  });
  c.elect(1);
  ASSERT_EQ(c.node(1).term(), Term(3));
  // (2, t2) is on all three nodes...
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_EQ(c.log(id).term(LogIndex(2)), Term(2)) << "node " << id;
  EXPECT_EQ(c.node(1).progress().at(NodeId(2)).match, LogIndex(2));
  // ...yet counting replicas must not commit it: a leader of term 3 cannot know that no other
  // candidate could still overwrite it (figure 8 (c) -> (d)).
  EXPECT_EQ(c.node(1).committed(), LogIndex(1));
  for (const auto& e : c.applied(1)) EXPECT_LE(e.index(), 1u);

  // Once the term-3 no-op reaches a majority, it commits, and (2, t2) with it.
  c.clear_rewrite();
  c.tick(1);
  c.deliver_all();
  EXPECT_EQ(c.node(1).committed(), LogIndex(3));
  ASSERT_EQ(c.applied(1).size(), 3u);
  EXPECT_EQ(c.applied(1)[1].index(), 2u);
  EXPECT_EQ(c.applied(1)[1].term(), 2u);
}

TEST(Commitment, Section5_4_2_CommittedEntriesAreHandedOutOnlyOnceDurableLocally) {
  MemoryLog log(conf_of(3));
  Node n(config_for(2), log);
  // The leader says 1 and 2 are committed, in the same append that brings them.
  step_ok(n, append(1, 2, 1, 0, 0, {entry(1, 1, "a"), entry(2, 1, "b")}, 2));
  Ready rd = n.ready();
  EXPECT_EQ(rd.entries.size(), 2u);
  EXPECT_TRUE(rd.committed.empty()) << "entries must not be applied before they are on our disk";
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit(), 2u);
  log.append(rd.hard_state, rd.entries);
  n.advance(rd);

  ASSERT_TRUE(n.has_ready());
  rd = handle_ready(n, log);
  ASSERT_EQ(rd.committed.size(), 2u);
  EXPECT_EQ(rd.committed[0].data(), "a");
  EXPECT_EQ(rd.committed[1].data(), "b");
  EXPECT_EQ(n.applied(), LogIndex(2));
}

TEST(Commitment, EntriesCommittedDuringAnInFlightReadyAreTakenOnceWithoutWaitingForIt) {
  MemoryLog log(conf_of(3));
  Node n(config_for(2), log);
  step_ok(n, append(1, 2, 1, 0, 0, {entry(1, 1, "a"), entry(2, 1, "b")}, 0));
  handle_ready(n, log);  // 1 and 2 durable, not yet known committed
  step_ok(n, append(1, 2, 1, 2, 1, {entry(3, 1, "c")}, 0));
  Ready in_flight = n.ready();  // the host is writing entry 3
  ASSERT_EQ(in_flight.entries.size(), 1u);
  EXPECT_TRUE(n.take_committed().empty());
  // The leader's next append says 1..3 are committed: 1 and 2 are durable here, 3 is not yet.
  step_ok(n, append(1, 2, 1, 3, 1, {}, 3));
  std::vector<pb::Entry> early = n.take_committed();
  ASSERT_EQ(early.size(), 2u);
  EXPECT_EQ(early[0].data(), "a");
  EXPECT_EQ(early[1].data(), "b");
  EXPECT_TRUE(n.take_committed().empty()) << "each entry is handed out once";
  log.append(in_flight.hard_state, in_flight.entries);
  n.advance(in_flight);
  Ready next = handle_ready(n, log);
  ASSERT_EQ(next.committed.size(), 1u) << "the next Ready hands out only what take_committed did not";
  EXPECT_EQ(next.committed[0].data(), "c");
  EXPECT_EQ(n.applied(), LogIndex(3));
}

TEST(Commitment, Section5_3_FollowerCommitIsCappedAtItsLastNewEntry) {
  MemoryLog log(conf_of(3));
  Node n(config_for(2), log);
  // Figure 2: commitIndex = min(leaderCommit, index of last new entry). The leader has committed
  // up to 9, but this append only proves entries up to 1 are the leader's.
  step_ok(n, append(1, 2, 1, 0, 0, {entry(1, 1, "a")}, 9));
  EXPECT_EQ(n.committed(), LogIndex(1));
}

TEST(Commitment, Section5_3_FollowerDoesNotCommitStaleEntriesBeyondTheAppend) {
  // Entries 3 and 4 came from a deposed leader of term 2; the leader of term 3 never had them.
  // Its append covers index 2 only, so nothing conflicts and 3 and 4 stay: capping the commit
  // at this node's last index instead of the last new entry would commit them.
  MemoryLog log(conf_of(3));
  seed_log(log, {1, 1, 2, 2}, hard_state(2, 0, 0));
  Node n(config_for(2), log);
  step_ok(n, append(1, 2, 3, 1, 1, {entry(2, 1, "t1")}, 9));
  EXPECT_EQ(n.committed(), LogIndex(2));
  EXPECT_EQ(n.last_index(), LogIndex(4)) << "the append removed nothing: the case where the caps differ";
}

TEST(Proposal, NotLeaderOnAFollowerWhichNamesTheLeader) {
  TestCluster c(3);
  c.elect(1);
  Result<Proposal> p = c.node(2).propose("x");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), Code::kNotLeader);
  EXPECT_EQ(c.node(2).leader(), NodeId(1));
}

TEST(Proposal, DroppedWhenUncommittedEntriesMaxIsReached) {
  TestCluster c(3, [](Config& cfg) { cfg.uncommitted_entries_max = 3; });
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.node(1).propose("p").is_ok()) << i;
  Result<Proposal> p = c.node(1).propose("over");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), Code::kDropped);
  // The bound is on uncommitted entries, so once they commit there is room again.
  c.process(1);
  c.heal();
  c.in_flight().clear();
  c.tick(1);
  c.deliver_all();
  c.tick(1);
  c.deliver_all();
  EXPECT_EQ(c.node(1).committed(), c.node(1).last_index());
  EXPECT_TRUE(c.node(1).propose("fits").is_ok());
}

// Every entry must fit one message to the followers (the host's frame limit): a larger
// proposal is refused before it reaches the log, which stays as it was.
TEST(Replication, AProposalLargerThanEntryBytesMaxIsTooLarge) {
  TestCluster c(3, [](Config& cfg) { cfg.entry_bytes_max = 100; });
  c.elect(1);
  const LogIndex last = c.node(1).last_index();
  Result<Proposal> p = c.node(1).propose(std::string(101, 'x'));
  EXPECT_EQ(p.status().code(), Code::kTooLarge);
  EXPECT_EQ(c.node(1).last_index(), last);
  EXPECT_TRUE(c.node(1).propose(std::string(100, 'x')).is_ok());
}

}  // namespace
}  // namespace castor::raft
