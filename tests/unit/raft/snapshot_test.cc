// Log compaction and InstallSnapshot in chunks (paper 7).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "raft/base/crc32c.h"
#include "raft/memory_log.h"
#include "raft/node.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

constexpr uint64_t kChunk = 100;
const std::string kData = std::string(100, 'a') + std::string(100, 'b') + std::string(50, 'c');

// The leader's host (node 1) snapshots what it applied and compacts its log up to there.
LogIndex compact_leader_log(TestCluster& c) {
  const LogIndex applied = c.node(1).applied();
  pb::SnapshotMeta meta;
  meta.set_index(applied.value);
  meta.set_term(c.node(1).term_at(applied)->value);
  *meta.mutable_conf() = conf_of(3);
  c.log(1).save_snapshot(meta, kData);
  return applied;
}

// Node 3 misses five writes; then the leader's host compacts its log past them, so node 3 can
// only catch up by snapshot. Returns the snapshot's index.
LogIndex lag_node3_behind_a_snapshot(TestCluster& c) {
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(c.node(1).propose("w" + std::to_string(i)).is_ok());
    c.process(1);
  }
  c.deliver_all();
  EXPECT_EQ(c.node(1).applied(), c.node(1).last_index());
  const LogIndex applied = compact_leader_log(c);
  c.heal();
  c.in_flight().clear();
  c.clear_sent();
  return applied;
}

std::vector<pb::Message> snap_chunks(const TestCluster& c) {
  std::vector<pb::Message> out;
  for (const auto& m : c.sent()) {
    if (m.type() == pb::MSG_SNAP) out.push_back(m);
  }
  return out;
}

TEST(Snapshot, Section7_LaggingFollowerGetsTheSnapshotInChunksAndRestartsItsLogThere) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  const LogIndex snap = lag_node3_behind_a_snapshot(c);
  c.tick(1);  // a heartbeat: node 3 answers, the leader finds what it needs is compacted
  c.deliver_all();

  std::vector<pb::Message> chunks = snap_chunks(c);
  ASSERT_EQ(chunks.size(), 3u);
  const uint64_t offsets[] = {0, 100, 200};
  const size_t sizes[] = {100, 100, 50};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(chunks[i].to(), 3u);
    EXPECT_EQ(chunks[i].snapshot_offset(), offsets[i]);
    EXPECT_EQ(chunks[i].snapshot_chunk().size(), sizes[i]);
    EXPECT_EQ(chunks[i].snapshot_meta().index(), snap.value);
    EXPECT_EQ(chunks[i].snapshot_done(), i == 2);
  }

  // The final chunk produced exactly one Ready with the whole snapshot, and that Ready's
  // messages (sent after the install) acknowledge it like an append.
  int with_snapshot = 0;
  for (const Ready& rd : c.readies(3)) {
    if (!rd.snapshot) continue;
    ++with_snapshot;
    EXPECT_EQ(rd.snapshot->data(), kData);
    EXPECT_EQ(rd.snapshot->meta().index(), snap.value);
    EXPECT_TRUE(rd.entries.empty());
    std::vector<pb::Message> acks = of_type(rd.messages, pb::MSG_APP_RESP);
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_FALSE(acks[0].reject());
    EXPECT_EQ(acks[0].index(), snap.value);
    EXPECT_TRUE(of_type(rd.early_messages, pb::MSG_APP_RESP).empty());
  }
  EXPECT_EQ(with_snapshot, 1);
  // Node 3's log now starts after the snapshot and the leader streams to it from there.
  EXPECT_EQ(c.log(3).first_index(), snap + 1);
  EXPECT_EQ(c.log(3).snapshot_meta().index(), snap.value);
  EXPECT_EQ(c.node(3).applied(), snap);
  EXPECT_EQ(c.node(1).progress().at(NodeId(3)).state, Progress::State::kReplicate);
  EXPECT_EQ(c.node(1).progress().at(NodeId(3)).match, snap);

  ASSERT_TRUE(c.node(1).propose("after").is_ok());
  c.process(1);
  c.deliver_all();
  EXPECT_EQ(c.node(3).last_index(), snap + 1);
  EXPECT_EQ(c.log(3).last_index(), snap + 1);
  EXPECT_EQ(c.log(3).first_index(), snap + 1);
  c.tick(1);
  c.deliver_all();
  ASSERT_FALSE(c.applied(3).empty());
  EXPECT_EQ(c.applied(3).back().data(), "after");
}

// Paper 7: the follower checks the whole stream before anything is replaced. One flipped byte
// in the last chunk: the log stays as it was, nothing is acknowledged or handed to the host,
// the leader is asked for the stream again, and the intact resend installs.
TEST(Snapshot, Section7_AStreamThatFailsItsChecksumReplacesNothingAndIsAskedForAgain) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  const LogIndex snap = lag_node3_behind_a_snapshot(c);
  const LogIndex last_before = c.log(3).last_index();
  c.tick(1);
  c.set_rewrite([](pb::Message& m) {
    if (m.type() == pb::MSG_SNAP && m.snapshot_done()) (*m.mutable_snapshot_chunk())[7] ^= 0x20;
  });
  ASSERT_TRUE(c.deliver_until([&c] { return c.node(3).snapshots_refused() > 0; }));
  EXPECT_EQ(c.node(3).snapshots_refused(), 1u);
  for (const Ready& rd : c.readies(3)) EXPECT_FALSE(rd.snapshot.has_value());
  EXPECT_EQ(c.log(3).snapshot_meta().index(), 0u);
  EXPECT_EQ(c.log(3).last_index(), last_before);
  EXPECT_EQ(c.node(3).last_index(), last_before);
  const std::vector<pb::Message> refusals = of_type(c.sent(), pb::MSG_SNAP_RESP);
  ASSERT_FALSE(refusals.empty());
  EXPECT_TRUE(refusals.back().reject());
  EXPECT_EQ(refusals.back().snapshot_offset(), 0u);
  // The refusal makes the leader start the stream over; this time it arrives intact.
  c.clear_rewrite();
  c.deliver_all();
  EXPECT_EQ(c.node(3).snapshots_refused(), 1u);
  EXPECT_EQ(c.log(3).snapshot_meta().index(), snap.value);
  EXPECT_EQ(c.node(3).applied(), snap);
  EXPECT_EQ(c.node(1).progress().at(NodeId(3)).match, snap);
}

TEST(Snapshot, Section7_LostChunkIsResentWhenHeartbeatAnswersShowNoProgress) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  const LogIndex snap = lag_node3_behind_a_snapshot(c);
  auto lost = std::make_shared<int>(0);
  c.set_drop([lost](const pb::Message& m) {
    if (m.type() == pb::MSG_SNAP && m.snapshot_offset() == 100 && *lost == 0) {
      ++*lost;
      return true;
    }
    return false;
  });
  c.tick(1);
  c.deliver_all();
  ASSERT_EQ(*lost, 1);
  // One chunk in flight at a time: with its answer lost, the stream stalls...
  EXPECT_EQ(snap_chunks(c).size(), 2u);
  EXPECT_EQ(c.log(3).snapshot_meta().index(), 0u);
  // ...until the follower proves alive twice without acknowledging anything new (one answer
  // alone may just mean a slow link), and the leader resends from its last acknowledged byte.
  c.tick(1);
  c.deliver_all();
  EXPECT_EQ(snap_chunks(c).size(), 2u) << "one heartbeat answer already triggered a resend";
  c.tick(1);
  c.deliver_all();
  std::vector<pb::Message> chunks = snap_chunks(c);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[2].snapshot_offset(), 100u);
  EXPECT_EQ(chunks[3].snapshot_offset(), 200u);
  EXPECT_EQ(c.log(3).snapshot_meta().index(), snap.value);
  EXPECT_EQ(c.log(3).snapshot_meta().data_bytes(), kData.size());
}

TEST(Snapshot, Section7_ChunkOfAnUnknownStreamIsRejectedAndTheLeaderRestartsAtZero) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  const LogIndex snap = lag_node3_behind_a_snapshot(c);
  c.tick(1);
  // Deliver until the second chunk is on its way, then restart node 3: the partial stream,
  // held only in memory, is gone.
  ASSERT_TRUE(c.deliver_until([&] { return snap_chunks(c).size() == 2; }));
  c.restart(3);
  c.deliver_all();

  EXPECT_EQ(c.count_sent([](const pb::Message& m) { return m.type() == pb::MSG_SNAP_RESP && m.reject(); }),
            1u);
  std::vector<uint64_t> offsets;
  for (const auto& m : snap_chunks(c)) offsets.push_back(m.snapshot_offset());
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 100, 0, 100, 200}));
  EXPECT_EQ(c.log(3).snapshot_meta().index(), snap.value);
  EXPECT_EQ(c.log(3).snapshot_meta().data_bytes(), kData.size());
  EXPECT_EQ(c.node(1).progress().at(NodeId(3)).match, snap);
}

// A follower's bug acknowledges bytes past the snapshot's end. The leader must not send a
// chunk from there: its follower refuses such a chunk (message_check.h) without answering,
// and the stream would stall until the next leader. A chunk from the end is one the follower
// takes and rejects as a stream it does not hold, and the leader starts over at 0.
TEST(Snapshot, Section7_AnAckPastTheEndRestartsTheStreamInsteadOfStallingIt) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_bytes_max = kChunk; });
  const LogIndex snap = lag_node3_behind_a_snapshot(c);
  auto bent = std::make_shared<int>(0);
  c.set_rewrite([bent](pb::Message& m) {
    if (m.type() == pb::MSG_SNAP_RESP && m.snapshot_offset() == 100 && *bent == 0) {
      ++*bent;
      m.set_snapshot_offset(1000);
    }
  });
  for (int i = 0; i < 3; ++i) c.tick_all_and_deliver();
  ASSERT_EQ(*bent, 1);
  EXPECT_EQ(c.refused(), 0) << "the ack past the end must reach the leader's core, not its check";
  for (const pb::Message& m : snap_chunks(c)) {
    EXPECT_LE(m.snapshot_offset(), m.snapshot_meta().data_bytes());
  }
  EXPECT_EQ(c.log(3).snapshot_meta().index(), snap.value);
  EXPECT_EQ(c.node(1).progress().at(NodeId(3)).match, snap);
}

TEST(Snapshot, Section7_FollowerRejectsAChunkOfAStreamItDoesNotHold) {
  MemoryLog log(conf_of(3));
  Node n(config_for(3), log);
  pb::Message m = msg(pb::MSG_SNAP, 1, 3, 1);
  m.mutable_snapshot_meta()->set_index(10);
  m.mutable_snapshot_meta()->set_term(1);
  *m.mutable_snapshot_meta()->mutable_conf() = conf_of(3);
  m.mutable_snapshot_meta()->set_data_bytes(300);
  m.set_snapshot_offset(100);
  m.set_snapshot_chunk(std::string(100, 'x'));
  step_ok(n, m);
  Ready rd = handle_ready(n, log);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type(), pb::MSG_SNAP_RESP);
  EXPECT_TRUE(rd.messages[0].reject());
  EXPECT_EQ(rd.messages[0].snapshot_offset(), 0u);
  EXPECT_EQ(rd.messages[0].index(), 10u);
  EXPECT_FALSE(rd.snapshot.has_value());
}

// A whole snapshot in one chunk, as the leader (node 1) sends it to node 3.
pb::Message whole_snapshot(uint64_t index, const std::string& data) {
  pb::Message m = msg(pb::MSG_SNAP, 1, 3, 1);
  m.mutable_snapshot_meta()->set_index(index);
  m.mutable_snapshot_meta()->set_term(1);
  *m.mutable_snapshot_meta()->mutable_conf() = conf_of(3);
  m.mutable_snapshot_meta()->set_data_bytes(data.size());
  m.mutable_snapshot_meta()->set_data_crc32c(crc32c_extend(0, data));
  m.set_snapshot_chunk(data);
  m.set_snapshot_done(true);
  return m;
}

// Seen in a chaos run: the leader compacted past the snapshot it was sending and sent a newer
// one while the follower's host was still installing the first (between ready() and
// advance()). The newer snapshot must reach the host in the next Ready; if advance() forgot
// it, the core would believe its log starts after the newer snapshot while the host's log
// starts after the older one, and the next append would leave a gap.
TEST(Snapshot, Section7_NewerSnapshotArrivingDuringAnInstallIsInstalledNext) {
  MemoryLog log(conf_of(3));
  Node n(config_for(3), log);
  step_ok(n, whole_snapshot(10, "ten"));
  Ready first = n.ready();
  ASSERT_TRUE(first.snapshot.has_value());
  log.install_snapshot(*first.snapshot);
  log.append(first.hard_state, first.entries);
  step_ok(n, whole_snapshot(20, "twenty"));  // while the host persists the first
  n.advance(first);
  Ready second = handle_ready(n, log);
  ASSERT_TRUE(second.snapshot.has_value());
  EXPECT_EQ(second.snapshot->meta().index(), 20u);
  EXPECT_EQ(log.snapshot_meta().index(), 20u);
  // Entries after the newer snapshot append without a gap.
  pb::Message app = msg(pb::MSG_APP, 1, 3, 1);
  app.set_index(20);
  app.set_log_term(1);
  app.set_commit(21);
  pb::Entry* e = app.add_entries();
  e->set_index(21);
  e->set_term(1);
  e->set_data("x");
  step_ok(n, app);
  Ready third = handle_ready(n, log);
  ASSERT_EQ(third.entries.size(), 1u);
  EXPECT_EQ(log.last_index(), LogIndex(21));
  EXPECT_EQ(n.committed(), LogIndex(21));
}

// docs/RUNBOOK.md: a node whose disk died restarts empty under the same id while the leader
// still believes it holds entries up to its old match. Its heartbeats must not crash it, and it
// must end up with the leader's snapshot.
TEST(Snapshot, Section7_NodeRestartedEmptyCatchesUpFromALeaderThatRemembersItsOldMatch) {
  TestCluster c(3);
  c.elect(1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.node(1).propose("w" + std::to_string(i)).is_ok());
    c.process(1);
    c.deliver_all();
  }
  ASSERT_EQ(c.node(1).progress().at(NodeId(3)).match, c.node(1).applied());  // node 3 was in step
  const LogIndex applied = compact_leader_log(c);
  c.wipe(3);
  for (int i = 0; i < 3; ++i) {
    c.tick(1);  // heartbeats carry commit = min(commit, the old match) to an empty log
    c.deliver_all();
  }
  EXPECT_EQ(c.log(3).snapshot_meta().index(), applied.value);
  EXPECT_EQ(c.node(3).committed(), c.node(1).committed());
}

TEST(Snapshot, Section7_DuplicatedChunkIsHarmless) {
  MemoryLog log(conf_of(3));
  Node n(config_for(3), log);
  pb::Message first = msg(pb::MSG_SNAP, 1, 3, 1);
  first.mutable_snapshot_meta()->set_index(10);
  first.mutable_snapshot_meta()->set_term(1);
  *first.mutable_snapshot_meta()->mutable_conf() = conf_of(3);
  first.mutable_snapshot_meta()->set_data_bytes(200);
  first.mutable_snapshot_meta()->set_data_crc32c(
      crc32c_extend(0, std::string(100, 'x') + std::string(100, 'y')));
  first.set_snapshot_chunk(std::string(100, 'x'));
  step_ok(n, first);
  handle_ready(n, log);
  step_ok(n, first);  // a duplicate of chunk 0 restarts the stream: still consistent
  handle_ready(n, log);
  pb::Message second = first;
  second.set_snapshot_offset(100);
  second.set_snapshot_chunk(std::string(100, 'y'));
  second.set_snapshot_done(true);
  step_ok(n, second);
  step_ok(n, second);  // a duplicate of the final chunk after completion
  Ready rd = handle_ready(n, log);
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->data(), std::string(100, 'x') + std::string(100, 'y'));
  EXPECT_EQ(log.snapshot_meta().index(), 10u);
  EXPECT_EQ(n.committed(), LogIndex(10));
}

}  // namespace
}  // namespace castor::raft
