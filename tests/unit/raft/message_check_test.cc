// check_peer_message (raft/message_check.h): one test per refusal rule, no refusal of anything
// the core sends, and randomized noise from peers that never crashes the core.
#include "raft/message_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

// The rule tests look at node 1 of a three-node cluster, at term 5.
const std::vector<NodeId> kVoters = {NodeId(1), NodeId(2), NodeId(3)};
constexpr NodeId kSelf(1);

::testing::AssertionResult refused_for(const pb::Message& m, const std::string& field) {
  const Status s = check_peer_message(m, kSelf, kVoters);
  if (s.code() == Code::kInvalidArgument && s.message().rfind(field + ":", 0) == 0) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected a refusal naming " << field << ", got " << s.to_string();
}

::testing::AssertionResult passes(const pb::Message& m) {
  const Status s = check_peer_message(m, kSelf, kVoters);
  if (s.is_ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.to_string();
}

// An append from leader 2 after entry 3 (term 4): entries 4 (term 4) and 5 (term 5).
pb::Message append() {
  pb::Message m = msg(pb::MSG_APP, 2, 1, 5);
  m.set_index(3);
  m.set_log_term(4);
  m.set_commit(4);
  *m.add_entries() = entry(4, 4, "a");
  *m.add_entries() = entry(5, 5, "b");
  return m;
}

// The middle chunk, bytes [100, 200), of a 250-byte snapshot at index 10.
pb::Message chunk() {
  pb::Message m = msg(pb::MSG_SNAP, 2, 1, 5);
  pb::SnapshotMeta* meta = m.mutable_snapshot_meta();
  meta->set_index(10);
  meta->set_term(4);
  *meta->mutable_conf() = conf_of(3);
  meta->set_data_bytes(250);
  m.set_snapshot_offset(100);
  m.set_snapshot_chunk(std::string(100, 'x'));
  return m;
}

pb::Message rejection() {
  pb::Message m = msg(pb::MSG_APP_RESP, 2, 1, 5);
  m.set_reject(true);
  m.set_index(7);
  m.set_reject_hint(6);
  m.set_log_term(3);
  return m;
}

TEST(MessageCheck, TheExamplesAreValid) {
  EXPECT_TRUE(passes(append()));
  EXPECT_TRUE(passes(chunk()));
  EXPECT_TRUE(passes(rejection()));
}

TEST(MessageCheck, UnknownOrNoneTypeIsRefused) {
  pb::Message m = msg(pb::MSG_NONE, 2, 1, 5);
  EXPECT_TRUE(refused_for(m, "type"));
  m.set_type(static_cast<pb::MessageType>(99));
  EXPECT_TRUE(refused_for(m, "type"));
}

TEST(MessageCheck, AMessageForAnotherNodeIsRefused) {
  EXPECT_TRUE(refused_for(msg(pb::MSG_HEARTBEAT, 2, 3, 5), "to"));
}

TEST(MessageCheck, SenderMustBeAnotherVoter) {
  EXPECT_TRUE(refused_for(msg(pb::MSG_HEARTBEAT, 0, 1, 5), "from"));
  EXPECT_TRUE(refused_for(msg(pb::MSG_HEARTBEAT, 1, 1, 5), "from"));
  EXPECT_TRUE(refused_for(msg(pb::MSG_HEARTBEAT, 4, 1, 5), "from"));
}

TEST(MessageCheck, TermsAndIndexesMustBeBelowTwoToThe63) {
  EXPECT_TRUE(refused_for(msg(pb::MSG_HEARTBEAT, 2, 1, kCountLimit), "term"));
  pb::Message m = append();
  m.set_commit(UINT64_MAX);
  EXPECT_TRUE(refused_for(m, "commit"));
  m = chunk();
  m.mutable_snapshot_meta()->set_index(kCountLimit);
  EXPECT_TRUE(refused_for(m, "snapshot_meta.index"));
  // The index itself is in range, but the entry after it is not.
  m = msg(pb::MSG_APP, 2, 1, 5);
  m.set_index(kCountLimit - 1);
  m.set_log_term(5);
  *m.add_entries() = entry(kCountLimit, 5);
  EXPECT_TRUE(refused_for(m, "entries.index"));
}

TEST(MessageCheck, AFieldItsTypeDoesNotCarryIsRefused) {
  pb::Message m = append();
  m.set_type(pb::MSG_HEARTBEAT);  // an append relabelled: its entries would vanish
  EXPECT_TRUE(refused_for(m, "log_term"));
  m = msg(pb::MSG_VOTE_RESP, 2, 1, 5);
  m.set_commit(3);
  EXPECT_TRUE(refused_for(m, "commit"));
  m = msg(pb::MSG_PRE_VOTE, 2, 1, 5);
  m.set_context("transfer");  // only a real vote is forced by a transfer
  EXPECT_TRUE(refused_for(m, "context"));
  m = msg(pb::MSG_TIMEOUT_NOW, 2, 1, 5);
  *m.mutable_snapshot_meta() = chunk().snapshot_meta();
  EXPECT_TRUE(refused_for(m, "snapshot_meta"));
}

TEST(MessageCheck, RejectionDetailsComeOnlyWithAReject) {
  pb::Message m = rejection();
  m.set_reject(false);
  EXPECT_TRUE(refused_for(m, "log_term"));
  m.set_log_term(0);
  EXPECT_TRUE(refused_for(m, "reject_hint"));
  m = msg(pb::MSG_HEARTBEAT_RESP, 2, 1, 5);
  m.set_reject_hint(3);
  EXPECT_TRUE(refused_for(m, "reject_hint"));
}

TEST(MessageCheck, LogTermAboveTheMessageTermIsRefused) {
  pb::Message m = append();
  m.set_log_term(6);
  EXPECT_TRUE(refused_for(m, "log_term"));
  m = msg(pb::MSG_VOTE, 2, 1, 5);
  m.set_index(9);
  m.set_log_term(6);
  EXPECT_TRUE(refused_for(m, "log_term"));
}

// The case: entries that do not follow `index` once hit CASTOR_ASSERT in handle_append.
TEST(MessageCheck, Section5_3_EntriesMustFollowTheIndexOneByOne) {
  pb::Message m = append();
  m.mutable_entries(0)->set_index(3);  // overlaps the entry it should follow
  EXPECT_TRUE(refused_for(m, "entries[0].index"));
  m = append();
  m.mutable_entries(1)->set_index(6);  // leaves a gap
  EXPECT_TRUE(refused_for(m, "entries[1].index"));
}

TEST(MessageCheck, EntryTypeMustBeKnown) {
  pb::Message m = append();
  m.mutable_entries(1)->set_type(static_cast<pb::EntryType>(7));
  EXPECT_TRUE(refused_for(m, "entries[1].type"));
}

TEST(MessageCheck, Section5_3_EntryTermsNeverDecreaseNorPassTheLeadersTerm) {
  pb::Message m = append();
  m.mutable_entries(0)->set_term(3);  // below log_term, the entry before it
  EXPECT_TRUE(refused_for(m, "entries[0].term"));
  m = append();
  m.mutable_entries(1)->set_term(3);
  EXPECT_TRUE(refused_for(m, "entries[1].term"));
  m = append();
  m.mutable_entries(1)->set_term(6);
  EXPECT_TRUE(refused_for(m, "entries[1].term"));
  m = append();
  m.set_index(0);
  m.set_log_term(0);
  m.mutable_entries(0)->set_index(1);
  m.mutable_entries(0)->set_term(0);
  m.mutable_entries(1)->set_index(2);
  EXPECT_TRUE(refused_for(m, "entries[0].term"));
}

TEST(MessageCheck, AConfEntryMustHoldAConfigurationWithVoters) {
  pb::Message m = append();
  m.mutable_entries(1)->set_type(pb::ENTRY_CONF);
  m.mutable_entries(1)->set_data("\xff");
  EXPECT_TRUE(refused_for(m, "entries[1].data"));
  m.mutable_entries(1)->set_data(pb::ConfState().SerializeAsString());
  EXPECT_TRUE(refused_for(m, "entries[1].data.voters"));
  m.mutable_entries(1)->set_data(conf_of(3).SerializeAsString());
  EXPECT_TRUE(passes(m));
}

TEST(MessageCheck, Section5_3_RejectHintCannotPassTheRejectedIndex) {
  pb::Message m = rejection();
  m.set_reject_hint(8);
  EXPECT_TRUE(refused_for(m, "reject_hint"));
}

TEST(MessageCheck, Thesis4_1_SnapshotConfigurationNeedsDistinctRealVoters) {
  pb::Message m = chunk();
  m.mutable_snapshot_meta()->mutable_conf()->clear_voters();
  EXPECT_TRUE(refused_for(m, "snapshot_meta.conf.voters"));
  m = chunk();
  m.mutable_snapshot_meta()->mutable_conf()->add_voters(0);
  EXPECT_TRUE(refused_for(m, "snapshot_meta.conf.voters"));
  m = chunk();
  m.mutable_snapshot_meta()->mutable_conf()->add_voters(2);
  EXPECT_TRUE(refused_for(m, "snapshot_meta.conf.voters"));
}

TEST(MessageCheck, SnapshotTermAboveTheLeadersTermIsRefused) {
  pb::Message m = chunk();
  m.mutable_snapshot_meta()->set_term(6);
  EXPECT_TRUE(refused_for(m, "snapshot_meta.term"));
}

TEST(MessageCheck, Section7_AChunkMustLieInsideItsSnapshot) {
  pb::Message m = chunk();
  m.set_snapshot_offset(251);
  m.clear_snapshot_chunk();
  EXPECT_TRUE(refused_for(m, "snapshot_offset"));
  m = chunk();
  m.set_snapshot_offset(200);  // 100 bytes from 200 run past 250
  EXPECT_TRUE(refused_for(m, "snapshot_chunk"));
}

TEST(MessageCheck, Section7_DoneMarksExactlyTheChunkThatEndsTheSnapshot) {
  pb::Message m = chunk();
  m.set_snapshot_done(true);
  EXPECT_TRUE(refused_for(m, "snapshot_done"));
  m = chunk();
  m.set_snapshot_offset(150);  // [150, 250): the last chunk
  EXPECT_TRUE(refused_for(m, "snapshot_done"));
  m.set_snapshot_done(true);
  EXPECT_TRUE(passes(m));
}

// Node::step runs the check itself: the append comes back refused, and changes nothing.
TEST(MessageCheck, StepRefusesAndIgnoresWhatTheCheckRefuses) {
  TestCluster c(3);
  c.elect(1);
  const LogIndex last = c.node(2).last_index();
  pb::Message m = msg(pb::MSG_APP, 1, 2, c.node(1).term().value);
  m.set_index(last.value);
  m.set_log_term(c.node(2).term_at(last)->value);
  *m.add_entries() = entry(1, c.node(1).term().value);  // claims index 1, not last + 1
  const Status s = c.node(2).step(m);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("entries[0].index:", 0), 0u) << s.message();
  EXPECT_FALSE(c.node(2).has_ready());
  EXPECT_EQ(c.node(2).last_index(), last);
}

// ---------------------------------------------------------------------------------------------
// No false refusals: every message the core sends in a run that exercises every message type.

constexpr uint64_t kChunk = 100;
const std::string kSnapshotData(250, 's');

void propose_and_deliver(TestCluster& c, uint64_t leader, const std::string& data) {
  ASSERT_TRUE(c.node(leader).propose(data).is_ok());
  c.process(leader);
  c.deliver_all();
}

// The host of `id` snapshots what it applied and compacts its log up to there (paper 7).
void compact(TestCluster& c, uint64_t id, const std::string& data) {
  const LogIndex applied = c.node(id).applied();
  pb::SnapshotMeta meta;
  meta.set_index(applied.value);
  meta.set_term(c.node(id).term_at(applied)->value);
  *meta.mutable_conf() = conf_of(3);
  c.log(id).save_snapshot(meta, data);
}

TEST(MessageCheck, EveryMessageTheCoreSendsPasses) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  // Elections: pre-votes, votes and the new leader's appends.
  c.elect(1);
  propose_and_deliver(c, 1, "w1");
  // Heartbeats, and a follower's read forwarded to the leader.
  ASSERT_TRUE(c.node(2).read_index("read-1").is_ok());
  c.process(2);
  c.deliver_all();
  c.tick_all_and_deliver();
  // Node 3 falls behind a compaction: snapshot chunks and their acknowledgements.
  c.isolate(3);
  for (int i = 0; i < 3; ++i) propose_and_deliver(c, 1, "w" + std::to_string(i + 2));
  compact(c, 1, kSnapshotData);
  c.heal();
  c.tick_all_and_deliver(2);
  // Node 2 loses its disk: it rejects the next heartbeat, and gets the snapshot.
  c.wipe(2);
  c.tick_all_and_deliver(2);
  propose_and_deliver(c, 1, "w5");
  // Leadership transfer: TimeoutNow and a forced election.
  ASSERT_TRUE(c.node(1).transfer_leadership(NodeId(3)).is_ok());
  c.process(1);
  c.deliver_all();
  ASSERT_EQ(c.node(3).role(), Role::kLeader);
  // The leader is cut off with a write it could not replicate, and the others elect a new
  // leader. Healed, its stale heartbeats are answered with the new term, and the new leader's
  // appends are rejected with a hint until they replace the lost write.
  c.isolate(3);
  ASSERT_TRUE(c.node(3).propose("lost").is_ok());
  c.process(3);
  for (int i = 0; i < 40 && c.node(1).role() != Role::kLeader && c.node(2).role() != Role::kLeader; ++i) {
    c.tick(1);
    c.tick(2);
    c.deliver_all();
  }
  const uint64_t leader = c.node(1).role() == Role::kLeader ? 1 : 2;
  ASSERT_EQ(c.node(leader).role(), Role::kLeader);
  c.heal();
  c.tick(3);
  c.deliver_all();
  EXPECT_EQ(c.node(3).role(), Role::kFollower);
  propose_and_deliver(c, leader, "w6");

  std::set<pb::MessageType> seen;
  for (const pb::Message& m : c.sent()) {
    seen.insert(m.type());
    const Status s = check_peer_message(m, NodeId(m.to()), c.node(m.to()).voters());
    EXPECT_TRUE(s.is_ok()) << pb::MessageType_Name(m.type()) << " " << m.ShortDebugString() << ": "
                           << s.to_string();
  }
  for (int t = pb::MSG_APP; t <= pb::MSG_READ_INDEX_RESP; ++t) {
    EXPECT_TRUE(seen.count(static_cast<pb::MessageType>(t)))
        << pb::MessageType_Name(static_cast<pb::MessageType>(t));
  }
  EXPECT_GT(c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_APP_RESP && m.reject(); }),
            0u);
  EXPECT_GT(
      c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_HEARTBEAT_RESP && m.reject(); }),
      0u);
  EXPECT_GT(
      c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_VOTE && !m.context().empty(); }),
      0u);
}

// ---------------------------------------------------------------------------------------------
// Noise: mutated copies of real traffic arrive next to it. Whatever passes the check must not
// trip the core's assertions (CASTOR_ASSERT aborts, so a crash fails the test), and once the
// noise stops the cluster must go on committing.

// Changes one to three fields: numbers most often off by a little (the likeliest bug),
// sometimes to an extreme. A snapshot's configuration is only ever broken, never replaced by
// another valid one: a well-formed but false configuration is a forged leader's, which the
// check cannot know (message_check.h), and it would route messages to nodes the harness does
// not have. Extreme terms are optional: a term just below kCountLimit passes, and a node that
// adopts it can never campaign again (its next term is refused everywhere). No stateless check
// can tell that term from a real one, as with any forged term; only authenticated peers
// prevent it.
class Mutator {
 public:
  Mutator(uint64_t seed, bool extreme_terms) : rng_(seed), extreme_terms_(extreme_terms) {}

  void mutate(pb::Message& m) {
    const uint64_t n = 1 + below(3);
    for (uint64_t i = 0; i < n; ++i) mutate_one(m);
  }

 private:
  uint64_t below(uint64_t n) { return rng_() % n; }

  uint64_t near(uint64_t v) {
    static constexpr uint64_t kExtremes[] = {0, 1, kCountLimit - 1, kCountLimit, UINT64_MAX};
    if (below(4) == 0) return kExtremes[below(std::size(kExtremes))];
    return v + below(5) - 2;
  }
  uint64_t near_term(uint64_t t) {
    return extreme_terms_ ? near(t) : std::max<uint64_t>(t + below(5), 2) - 2;
  }

  pb::Entry& some_entry(pb::Message& m) {
    if (m.entries_size() == 0) return *m.add_entries();
    return *m.mutable_entries(static_cast<int>(below(static_cast<uint64_t>(m.entries_size()))));
  }

  void reshuffle_entries(pb::Message& m) {
    auto* entries = m.mutable_entries();
    if (entries->empty()) return;
    const int i = static_cast<int>(below(static_cast<uint64_t>(entries->size())));
    switch (below(4)) {
      case 0:
        entries->erase(entries->begin() + i);
        break;
      case 1:
        *entries->Add() = entries->Get(i);
        break;
      case 2:
        entries->SwapElements(0, i);
        break;
      default:
        entries->Clear();
        break;
    }
  }

  void break_conf(pb::ConfState& conf) {
    switch (below(3)) {
      case 0:
        conf.clear_voters();
        break;
      case 1:
        conf.add_voters(0);
        break;
      default:
        conf.add_voters(conf.voters_size() > 0 ? conf.voters(0) : 1);
        break;
    }
  }

  void mutate_entry(pb::Entry& e) {
    switch (below(3)) {
      case 0:
        e.set_index(near(e.index()));
        break;
      case 1:
        e.set_term(near_term(e.term()));
        break;
      default:
        e.set_type(static_cast<pb::EntryType>(below(4)));
        break;
    }
  }

  void mutate_snapshot_meta(pb::SnapshotMeta& meta) {
    switch (below(3)) {
      case 0:
        meta.set_index(near(meta.index()));
        break;
      case 1:
        meta.set_term(near_term(meta.term()));
        break;
      default:
        break_conf(*meta.mutable_conf());
        break;
    }
  }

  void resize_chunk(pb::Message& m) {
    std::string& chunk = *m.mutable_snapshot_chunk();
    chunk.resize(below(2) == 0 ? 0 : chunk.size() + below(5) - std::min<uint64_t>(chunk.size(), 2), 'z');
  }

  void mutate_one(pb::Message& m) {
    switch (below(18)) {
      case 0:
        m.set_type(static_cast<pb::MessageType>(below(15)));
        break;
      case 1:
        m.set_from(below(5));
        break;
      case 2:
        m.set_to(below(5));
        break;
      case 3:
        m.set_term(near_term(m.term()));
        break;
      case 4:
        m.set_log_term(near_term(m.log_term()));
        break;
      case 5:
        m.set_index(near(m.index()));
        break;
      case 6:
        m.set_commit(near(m.commit()));
        break;
      case 7:
        m.set_reject(!m.reject());
        break;
      case 8:
        m.set_reject_hint(near(m.reject_hint()));
        break;
      case 9:
        m.set_read_round(near(m.read_round()));
        break;
      case 10:
        m.set_context(below(2) == 0 ? "transfer" : "");
        break;
      case 11:
        mutate_entry(some_entry(m));
        break;
      case 12:
        reshuffle_entries(m);
        break;
      case 13:
        m.set_snapshot_offset(near(m.snapshot_offset()));
        break;
      case 14:
        m.mutable_snapshot_meta()->set_data_bytes(near(m.snapshot_meta().data_bytes()));
        break;
      case 15:
        resize_chunk(m);
        break;
      case 16:
        m.set_snapshot_done(!m.snapshot_done());
        break;
      default:
        mutate_snapshot_meta(*m.mutable_snapshot_meta());
        break;
    }
  }

  std::mt19937_64 rng_;
  bool extreme_terms_;
};

struct NoiseStats {
  uint64_t refused = 0;
  uint64_t accepted = 0;
};

uint64_t leader_of(TestCluster& c) {
  for (uint64_t id = 1; id <= 3; ++id) {
    if (c.node(id).role() == Role::kLeader) return id;
  }
  return 0;
}

// A mutated message arrives at `to`, the node the real one was for.
void deliver_noise(TestCluster& c, uint64_t to, const pb::Message& m, NoiseStats& stats) {
  Node& node = c.node(to);
  if (!check_peer_message(m, node.id(), node.voters()).is_ok()) {
    ++stats.refused;
    return;
  }
  ++stats.accepted;
  EXPECT_TRUE(node.step(m).is_ok());
  c.process(to);
}

// Delivers in-flight traffic (and what it causes, up to a bound); with a mutator, half the
// messages are followed by one or two mutated copies.
void deliver_with_noise(TestCluster& c, Mutator* noise, std::mt19937_64& rng, NoiseStats& stats) {
  for (int n = 0; n < 2000 && !c.in_flight().empty(); ++n) {
    const pb::Message m = c.in_flight().front();
    c.in_flight().pop_front();
    c.deliver(m);
    if (!noise || rng() % 2 == 0) continue;
    for (uint64_t copies = 1 + rng() % 2; copies > 0; --copies) {
      pb::Message bad = m;
      noise->mutate(bad);
      deliver_noise(c, m.to(), bad, stats);
    }
  }
}

// One round of a busy cluster: everyone ticks, the leader takes a write, sometimes a follower
// reads, a host compacts its log (so lagging nodes get snapshots) or the leader hands over.
void busy_round(TestCluster& c, int round, std::mt19937_64& rng) {
  for (uint64_t id = 1; id <= 3; ++id) c.tick(id);
  const uint64_t leader = leader_of(c);
  if (leader == 0) return;
  if (c.node(leader).propose("r" + std::to_string(round)).is_ok()) c.process(leader);
  const uint64_t other = 1 + (leader + rng() % 2) % 3;
  if (rng() % 4 == 0 && c.node(other).read_index("read-" + std::to_string(round)).is_ok()) c.process(other);
  if (rng() % 8 == 0) {
    const uint64_t host = 1 + rng() % 3;
    if (c.node(host).applied().value > c.log(host).snapshot_meta().index()) {
      compact(c, host, std::string(150 + rng() % 200, static_cast<char>('a' + round % 26)));
    }
  }
  if (rng() % 50 == 0) {
    (void)c.node(leader).transfer_leadership(NodeId(other));
    c.process(leader);
  }
}

// Within `rounds` rounds of plain traffic, some leader commits a fresh write and every node
// applies it.
bool commits_everywhere_within(TestCluster& c, int rounds, std::mt19937_64& rng) {
  NoiseStats none;
  std::vector<Proposal> marks;
  for (int r = 0; r < rounds; ++r) {
    for (uint64_t id = 1; id <= 3; ++id) c.tick(id);
    if (const uint64_t leader = leader_of(c); leader != 0) {
      if (auto p = c.node(leader).propose("after-noise"); p.is_ok()) marks.push_back(*p);
      c.process(leader);
    }
    deliver_with_noise(c, nullptr, rng, none);
    for (const Proposal& p : marks) {
      bool everywhere = true;
      for (uint64_t id = 1; id <= 3; ++id) {
        everywhere = everywhere && c.node(id).applied() >= p.index && c.node(id).term_at(p.index) == p.term;
      }
      if (everywhere) return true;
    }
  }
  return false;
}

// 600 busy rounds of a three-node cluster on lossy links (so that followers fall behind
// compactions and probes go back and forth), with noise. Returns the cluster, quiet again.
NoiseStats run_with_noise(TestCluster& c, uint64_t seed, bool extreme_terms) {
  std::mt19937_64 rng(seed);
  Mutator noise(seed, extreme_terms);
  NoiseStats stats;
  c.set_drop([&rng](const pb::Message&) { return rng() % 10 == 0; });
  for (int round = 0; round < 600; ++round) {
    busy_round(c, round, rng);
    deliver_with_noise(c, &noise, rng, stats);
  }
  c.clear_drop();
  return stats;
}

void small_windows(Config& cfg) {
  cfg.snapshot_chunk_bytes_max = kChunk;
  cfg.inflight_appends_max = 4;
}

// Extreme terms stop a run's elections early (see Mutator), so this test runs many seeds.
TEST(MessageCheck, NoiseThatPassesTheCheckNeverCrashesTheCore) {
  NoiseStats total;
  for (uint64_t seed = 100; seed < 150; ++seed) {
    TestCluster c(3, small_windows);
    const NoiseStats stats = run_with_noise(c, seed, true);
    total.refused += stats.refused;
    total.accepted += stats.accepted;
  }
  EXPECT_GT(total.refused, 10000u);
  EXPECT_GT(total.accepted, 1000u);
}

TEST(MessageCheck, AfterNoiseTheClusterCommitsOnEveryNode) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TestCluster c(3, small_windows);
    const NoiseStats stats = run_with_noise(c, seed, false);
    EXPECT_GT(stats.refused, 1000u);
    EXPECT_GT(stats.accepted, 200u);
    EXPECT_GT(c.count_sent(is_type(pb::MSG_SNAP)), 0u);
    std::mt19937_64 rng(seed);
    EXPECT_TRUE(commits_everywhere_within(c, 100, rng));
  }
}

}  // namespace
}  // namespace castor::raft
