// Compaction (kv/server/compaction.h): a snapshot is due every N applied entries or at once
// when the log nearly fills, one at a time; the log drops the covered entries only once the
// core has handed them all out, and never goes back behind a leader's newer snapshot.
#include "kv/server/compaction.h"

#include <gtest/gtest.h>

#include "tests/unit/raft/storage/test_util.h"

namespace castor::kv {
namespace {

using raft::LogIndex;

SnapshotInfo info_at(uint64_t index) {
  SnapshotInfo info;
  info.index = LogIndex(index);
  info.term = raft::Term(1);
  return info;
}

std::unique_ptr<raft::LmdbLog> log_with(const testing::TempDir& dir, uint64_t entries) {
  raft::LmdbLog::Options options;
  options.data_dir = dir.path();
  options.bootstrap_conf = raft::testing::make_conf({1, 2, 3});
  options.create_if_missing = true;
  auto log = raft::LmdbLog::open(options);
  EXPECT_TRUE(log.is_ok()) << log.status().to_string();
  if (!log.is_ok()) return nullptr;
  EXPECT_TRUE((*log)->append(std::nullopt, raft::testing::make_entries(1, entries + 1, 1)).is_ok());
  return std::move(log).value();
}

TEST(Compaction, DueEveryNEntriesOrAtOnceWhenTheLogNearlyFillsOneAtATime) {
  Compaction c(100, LogIndex(50));
  EXPECT_FALSE(c.due(LogIndex(149), false));
  EXPECT_TRUE(c.due(LogIndex(150), false));
  EXPECT_TRUE(c.due(LogIndex(51), true)) << "a nearly full log wants one now";
  EXPECT_FALSE(c.due(LogIndex(50), true)) << "but not with nothing applied since the last";
  c.started();
  EXPECT_FALSE(c.due(LogIndex(500), true)) << "one at a time";
  c.abandoned();
  EXPECT_TRUE(c.due(LogIndex(500), false));
}

TEST(Compaction, TheLogDropsTheCoveredEntriesOnlyOnceTheCoreHandedThemOut) {
  testing::TempDir dir;
  auto log = log_with(dir, 20);
  ASSERT_NE(log, nullptr);
  Compaction c(10, LogIndex(0));
  c.started();
  c.taken(info_at(15), "state at 15");
  EXPECT_FALSE(c.due(LogIndex(100), false)) << "a snapshot waits: it is not taken again";

  auto early = c.compact(LogIndex(12), *log);
  ASSERT_TRUE(early.is_ok()) << early.status().to_string();
  EXPECT_FALSE(*early) << "the core has handed out only 12 of the 15 entries";
  EXPECT_EQ(log->first_index(), LogIndex(1));

  auto done = c.compact(LogIndex(15), *log);
  ASSERT_TRUE(done.is_ok()) << done.status().to_string();
  EXPECT_TRUE(*done);
  EXPECT_EQ(log->snapshot_meta().index(), 15u);
  EXPECT_EQ(log->first_index(), LogIndex(16));
  EXPECT_EQ(c.snapshot_index(), LogIndex(15));
  EXPECT_FALSE(c.compact(LogIndex(20), *log).value()) << "nothing waits any more";
  EXPECT_TRUE(c.due(LogIndex(25), false));
}

TEST(Compaction, ASnapshotOlderThanTheLogsIsDropped) {
  testing::TempDir dir;
  auto log = log_with(dir, 20);
  ASSERT_NE(log, nullptr);
  Compaction c(10, LogIndex(0));
  c.started();
  c.taken(info_at(18), "state at 18");
  ASSERT_TRUE(c.compact(LogIndex(18), *log).value());
  c.started();
  c.taken(info_at(16), "state at 16");  // taken before a newer one reached the log
  EXPECT_FALSE(c.compact(LogIndex(20), *log).value());
  EXPECT_EQ(log->snapshot_meta().index(), 18u);
  c.installed(LogIndex(30));
  EXPECT_EQ(c.snapshot_index(), LogIndex(30));
  c.installed(LogIndex(25));
  EXPECT_EQ(c.snapshot_index(), LogIndex(30)) << "never backwards";
}

}  // namespace
}  // namespace castor::kv
