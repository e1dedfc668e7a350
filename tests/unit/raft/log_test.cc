// RaftLog: the durable part read through a MemoryLog plus the unstable tail the core holds.
#include "raft/log.h"

#include <gtest/gtest.h>

#include "raft/memory_log.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using testing::conf_of;
using testing::entry;
using testing::hard_state;

// A durable log holding entries with these terms at indexes 1, 2, ...
MemoryLog durable_with_terms(const std::vector<uint64_t>& terms, uint64_t commit = 0) {
  MemoryLog log(conf_of(3));
  std::vector<pb::Entry> es;
  for (size_t i = 0; i < terms.size(); ++i) es.push_back(entry(i + 1, terms[i], "e" + std::to_string(i + 1)));
  log.append(hard_state(terms.empty() ? 0 : terms.back(), 0, commit), es);
  return log;
}

TEST(RaftLog, Section5_3_FindConflictReturnsFirstNewOrDifferingEntry) {
  MemoryLog durable = durable_with_terms({1, 2, 3});
  RaftLog log(durable);
  EXPECT_EQ(log.find_conflict({}), std::nullopt);
  // Entries we already hold: nothing to do (a duplicated append must not truncate anything).
  EXPECT_EQ(log.find_conflict({entry(1, 1), entry(2, 2)}), std::nullopt);
  EXPECT_EQ(log.find_conflict({entry(2, 2), entry(3, 3)}), std::nullopt);
  // Same index, different term: the first conflict.
  EXPECT_EQ(log.find_conflict({entry(2, 2), entry(3, 4), entry(4, 4)}), LogIndex(3));
  EXPECT_EQ(log.find_conflict({entry(1, 2)}), LogIndex(1));
  // Past our last index: the first new entry.
  EXPECT_EQ(log.find_conflict({entry(3, 3), entry(4, 3)}), LogIndex(4));
}

TEST(RaftLog, Section5_3_FindConflictByTermSkipsAWholeTerm) {
  // Terms by index:      1  2  3  4  5  6
  MemoryLog durable = durable_with_terms({1, 1, 2, 2, 4, 4});
  RaftLog log(durable);
  // The last index <= 6 whose term is <= the given term.
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(6), Term(4)), LogIndex(6));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(6), Term(3)), LogIndex(4));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(6), Term(1)), LogIndex(2));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(6), Term(0)), LogIndex(0));
  // An index past our log is clamped to our last index (a follower far behind the leader).
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(100), Term(9)), LogIndex(6));
  EXPECT_EQ(log.find_conflict_by_term(LogIndex(3), Term(3)), LogIndex(3));
}

TEST(RaftLog, Section5_4_1_IsUpToDateComparesLastTermThenLength) {
  MemoryLog durable = durable_with_terms({1, 2, 2});  // last (3, t2)
  RaftLog log(durable);
  EXPECT_TRUE(log.is_up_to_date(LogIndex(3), Term(2)));
  EXPECT_TRUE(log.is_up_to_date(LogIndex(9), Term(2)));
  EXPECT_TRUE(log.is_up_to_date(LogIndex(1), Term(3)));  // a later last term wins even if shorter
  EXPECT_FALSE(log.is_up_to_date(LogIndex(2), Term(2)));
  EXPECT_FALSE(log.is_up_to_date(LogIndex(50), Term(1)));  // a longer log of an older term loses
}

TEST(RaftLog, EntriesRespectBytesMaxAcrossDurableAndUnstableButReturnAtLeastOne) {
  MemoryLog durable = durable_with_terms({1, 1});  // data "e1", "e2": 2 bytes each
  RaftLog log(durable);
  log.truncate_and_append({entry(3, 1, "e3"), entry(4, 1, "e4")});
  EXPECT_EQ(log.entries(LogIndex(1), LogIndex(5), 100)->size(), 4u);
  EXPECT_EQ(log.entries(LogIndex(1), LogIndex(5), 4)->size(), 2u);
  EXPECT_EQ(log.entries(LogIndex(1), LogIndex(5), 6)->size(), 3u);  // crosses into the unstable tail
  EXPECT_EQ(log.entries(LogIndex(2), LogIndex(5), 0)->size(), 1u);  // at least one entry
  EXPECT_EQ(log.entries(LogIndex(3), LogIndex(5), 0)->size(), 1u);
  EXPECT_TRUE(log.entries(LogIndex(5), LogIndex(9), 100)->empty());
}

TEST(RaftLog, Section7_EntriesBelowTheSnapshotAreGone) {
  MemoryLog durable = durable_with_terms({1, 1, 2, 2});
  pb::SnapshotMeta meta;
  meta.set_index(2);
  meta.set_term(1);
  *meta.mutable_conf() = conf_of(3);
  durable.save_snapshot(meta, "state");
  RaftLog log(durable);
  EXPECT_EQ(log.first_index(), LogIndex(3));
  EXPECT_EQ(log.entries(LogIndex(2), LogIndex(5), 100), std::nullopt);
  EXPECT_EQ(log.term(LogIndex(2)), Term(1));  // the snapshot's own (index, term) stays known
  EXPECT_EQ(log.term(LogIndex(1)), std::nullopt);
  EXPECT_EQ(log.committed(), LogIndex(2));
  EXPECT_EQ(log.applied(), LogIndex(2));
}

TEST(RaftLog, Section5_3_StableToIgnoresATailRewrittenSincePersist) {
  MemoryLog durable = durable_with_terms({1});
  RaftLog log(durable);
  log.truncate_and_append({entry(2, 1), entry(3, 1)});
  // The host takes entries [2, 3] of term 1 and persists them...
  std::vector<pb::Entry> handed = log.unstable_entries();
  durable.append(std::nullopt, handed);
  // ...while a new leader's append replaces index 3 with one of term 2.
  log.truncate_and_append({entry(3, 2)});
  // The acknowledgement of (3, t1) must not mark the new (3, t2) durable: it is not on disk.
  log.stable_to(LogIndex(3), Term(1));
  ASSERT_EQ(log.unstable_entries().size(), 2u);
  EXPECT_EQ(log.unstable_entries().back().term(), 2u);
  EXPECT_EQ(log.stable_last(), LogIndex(1));
  // Once the rewritten tail is persisted too, it is stable.
  durable.append(std::nullopt, log.unstable_entries());
  log.stable_to(LogIndex(3), Term(2));
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.stable_last(), LogIndex(3));
}

TEST(RaftLog, Section5_3_TruncationBelowTheDurableTailHidesTheOldSuffix) {
  MemoryLog durable = durable_with_terms({1, 1, 1});
  RaftLog log(durable);
  log.truncate_and_append({entry(2, 2)});
  EXPECT_EQ(log.last_index(), LogIndex(2));
  EXPECT_EQ(log.term(LogIndex(2)), Term(2));
  EXPECT_EQ(log.term(LogIndex(3)), std::nullopt);  // the durable (3, t1) is being replaced
  // Durable entries 2 and 3 are about to be overwritten, so only index 1 counts as stable.
  EXPECT_EQ(log.stable_last(), LogIndex(1));
}

TEST(RaftLog, ReadyRule_NextCommittedIsBoundedByTheStableIndex) {
  MemoryLog durable = durable_with_terms({1});
  RaftLog log(durable);
  log.truncate_and_append({entry(2, 1), entry(3, 1)});
  log.commit_to(LogIndex(3));  // the leader says 3 is committed, but we hold 2 and 3 only in memory
  std::vector<pb::Entry> c = log.next_committed(UINT64_MAX);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].index(), 1u);
  log.applied_to(LogIndex(1));
  EXPECT_FALSE(log.has_next_committed());

  durable.append(std::nullopt, log.unstable_entries());
  log.stable_to(LogIndex(3), Term(1));
  c = log.next_committed(UINT64_MAX);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].index(), 2u);
  EXPECT_EQ(c[1].index(), 3u);
}

TEST(RaftLog, NextCommittedRespectsBytesMax) {
  MemoryLog durable = durable_with_terms({1, 1, 1}, /*commit=*/3);
  RaftLog log(durable);
  EXPECT_EQ(log.next_committed(4).size(), 2u);  // "e1" + "e2"
  EXPECT_EQ(log.next_committed(0).size(), 1u);
}

TEST(RaftLog, Section7_RestoreMakesTheSnapshotPendingUntilInstalled) {
  MemoryLog durable = durable_with_terms({1, 1});
  RaftLog log(durable);
  pb::SnapshotMeta meta;
  meta.set_index(10);
  meta.set_term(3);
  log.restore(meta);
  EXPECT_EQ(log.first_index(), LogIndex(11));
  EXPECT_EQ(log.last_index(), LogIndex(10));
  EXPECT_EQ(log.term(LogIndex(10)), Term(3));
  EXPECT_EQ(log.term(LogIndex(2)), std::nullopt);
  EXPECT_EQ(log.committed(), LogIndex(10));
  // Nothing is applied from the log while the snapshot waits to be installed.
  EXPECT_FALSE(log.has_next_committed());
  pb::Snapshot snap;
  *snap.mutable_meta() = meta;
  durable.install_snapshot(snap);
  log.snapshot_installed(LogIndex(10));
  EXPECT_EQ(log.first_index(), LogIndex(11));
  EXPECT_EQ(log.applied(), LogIndex(10));
  EXPECT_FALSE(log.pending_snapshot().has_value());
}

}  // namespace
}  // namespace castor::raft
