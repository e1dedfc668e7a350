// Applying committed entries: each write in a batch takes its own revision, non-command entries
// only advance the applied index, replay is idempotent, and a bad batch applies nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::entry;
using testing::KvHarness;
using testing::noop_entry;
using testing::put_request;
using testing::write_command;

TEST(Apply, CommandsInOneEntryTakeARevisionEach) {
  KvHarness h;
  uint64_t index = h.next_index();
  const uint64_t before = h.sm().revision();
  auto applied = h.apply({write_command(h.now_ms(), h.stamp(put_request("a", "1"))),
                          write_command(h.now_ms(), h.stamp(put_request("b", "1"))),
                          write_command(h.now_ms(), h.stamp(put_request("a", "2", true)))});
  ASSERT_EQ(applied.size(), 3u);
  for (size_t i = 0; i < applied.size(); ++i) {
    EXPECT_EQ(applied[i].index.value, index);
    EXPECT_EQ(applied[i].response.header().revision(), before + 1 + i);
    EXPECT_EQ(applied[i].client_id, h.client_id());
  }
  EXPECT_EQ(applied[2].seq, h.last_seq());
  // Two puts of "a" in one entry: version counts both, and each value has its own mod_revision.
  EXPECT_EQ(h.get("a")->version(), 2u);
  EXPECT_EQ(applied[2].response.write().put().prev_kv().mod_revision(), before + 1);
  EXPECT_EQ(h.get("a")->mod_revision(), before + 3);
  EXPECT_EQ(h.get("b")->mod_revision(), before + 2);
  EXPECT_EQ(h.sm().revision(), before + 3);
}

TEST(Apply, ManyEntriesInOneCallAnswerInLogOrder) {
  KvHarness h;
  uint64_t first = h.next_index();
  std::vector<raft::pb::Entry> entries;
  for (uint64_t i = 0; i < 5; ++i) {
    entries.push_back(
        entry(first + i, {write_command(h.now_ms(), h.stamp(put_request("k", std::to_string(i))))}));
  }
  auto applied = h.sm().apply(entries);
  ASSERT_TRUE(applied.is_ok());
  ASSERT_EQ(applied->size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ((*applied)[i].index.value, first + i);
  EXPECT_EQ(h.sm().applied_index().value, first + 4);
  EXPECT_EQ(h.get("k")->value(), "4");
}

TEST(Apply, NoopAndConfEntriesOnlyAdvanceTheAppliedIndex) {
  KvHarness h;
  h.put("a", "1");
  auto before = h.get("a");
  raft::pb::Entry conf = noop_entry(h.next_index() + 1, 2);
  conf.set_type(raft::pb::ENTRY_CONF);
  conf.set_data("voters");
  raft::pb::Entry entries[] = {noop_entry(h.next_index(), 2), conf};
  auto applied = h.sm().apply(entries);
  ASSERT_TRUE(applied.is_ok());
  EXPECT_TRUE(applied->empty());
  EXPECT_EQ(h.sm().applied_index().value, h.next_index() + 1);
  EXPECT_EQ(h.get("a")->SerializeAsString(), before->SerializeAsString());
}

TEST(Apply, EntriesAtOrBelowTheAppliedIndexAreSkipped) {
  KvHarness h;
  uint64_t index = h.next_index();
  raft::pb::Entry e = entry(index, {write_command(h.now_ms(), h.stamp(put_request("k", "v")))});
  ASSERT_TRUE(h.sm().apply(std::span(&e, 1)).is_ok());
  // The same entry again, with and without a new one after it.
  auto again = h.sm().apply(std::span(&e, 1));
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->empty());
  raft::pb::Entry entries[] = {e, noop_entry(index + 1)};
  auto mixed = h.sm().apply(entries);
  ASSERT_TRUE(mixed.is_ok());
  EXPECT_TRUE(mixed->empty());
  EXPECT_EQ(h.sm().applied_index().value, index + 1);
  EXPECT_EQ(h.get("k")->version(), 1u);
}

TEST(Apply, ReplayAfterReopenDoesNotReapply) {
  KvHarness h;
  uint64_t first = h.next_index();
  std::vector<raft::pb::Entry> log;
  for (uint64_t i = 0; i < 3; ++i) {
    log.push_back(
        entry(first + i, {write_command(h.now_ms(), h.stamp(put_request("k", std::to_string(i))))}));
  }
  ASSERT_TRUE(h.sm().apply(log).is_ok());
  h.reopen();
  EXPECT_EQ(h.sm().applied_index().value, first + 2);
  // After a restart the server replays the log from its start; nothing applies twice.
  auto replay = h.sm().apply(log);
  ASSERT_TRUE(replay.is_ok());
  EXPECT_TRUE(replay->empty());
  EXPECT_EQ(h.get("k")->version(), 3u);
  EXPECT_EQ(h.get("k")->value(), "2");
}

TEST(Apply, IndexGapIsInternalAndAppliesNothing) {
  KvHarness h;
  uint64_t applied_before = h.sm().applied_index().value;
  raft::pb::Entry entries[] = {
      entry(h.next_index(), {write_command(h.now_ms(), h.stamp(put_request("a", "v")))}),
      noop_entry(h.next_index() + 2)};
  auto applied = h.sm().apply(entries);
  EXPECT_EQ(applied.status().code(), Code::kInternal);
  EXPECT_EQ(h.sm().applied_index().value, applied_before);
  EXPECT_FALSE(h.get("a").has_value());
}

TEST(Apply, UnparseableEntryIsCorruptionAndNothingOfTheBatchApplies) {
  KvHarness h;
  raft::pb::Entry bad = noop_entry(h.next_index() + 1);
  bad.set_type(raft::pb::ENTRY_NORMAL);
  bad.set_data("\xff\xff\xff");
  raft::pb::Entry entries[] = {
      entry(h.next_index(), {write_command(h.now_ms(), h.stamp(put_request("a", "v")))}), bad};
  uint64_t applied_before = h.sm().applied_index().value;
  auto applied = h.sm().apply(entries);
  EXPECT_EQ(applied.status().code(), Code::kCorruption);
  EXPECT_EQ(h.sm().applied_index().value, applied_before);
  EXPECT_FALSE(h.get("a").has_value());
  // The state machine is still usable: the good entry applies on its own.
  auto retry = h.sm().apply(std::span(entries, 1));
  ASSERT_TRUE(retry.is_ok());
  EXPECT_TRUE(h.get("a").has_value());
}

TEST(Apply, WritesWithoutSessionApplyOncePerEntryAndOpenNoSession) {
  KvHarness h;
  pb::WriteRequest w = put_request("k", "v");  // client_id 0: the HTTP API's writes
  w.set_seq(77);                               // the proposer's tag
  const uint64_t sessions_before = *h.sm().session_count();
  const uint64_t revision_before = h.sm().revision();
  uint64_t first = h.next_index();
  // The same tag twice (a client retrying through HTTP): no deduplication, both apply.
  raft::pb::Entry entries[] = {entry(first, {write_command(h.now_ms(), w)}),
                               entry(first + 1, {write_command(h.now_ms(), w)})};
  auto applied = h.sm().apply(entries);
  ASSERT_TRUE(applied.is_ok());
  ASSERT_EQ(applied->size(), 2u);
  for (const AppliedCommand& c : *applied) {
    EXPECT_EQ(c.response.code(), pb::OK);
    EXPECT_EQ(c.client_id, 0u);
    EXPECT_EQ(c.seq, 77u);
  }
  EXPECT_EQ((*applied)[1].response.header().revision(), revision_before + 2);
  EXPECT_EQ(h.get("k")->version(), 2u);
  EXPECT_EQ(*h.sm().session_count(), sessions_before);
}

TEST(Apply, UncommittedBatchesAnswerAtOnceAndBecomeVisibleAtCommit) {
  KvHarness h;
  raft::pb::Entry e1 = entry(h.next_index(), {write_command(h.now_ms(), h.stamp(put_request("k", "v1")))});
  std::vector<AppliedCommand> answers;
  auto sink = [&](AppliedBatch a) { answers.insert(answers.end(), a.answers.begin(), a.answers.end()); };
  ASSERT_TRUE(h.sm().apply_uncommitted(std::span(&e1, 1), sink).is_ok());
  raft::pb::Entry e2 = entry(e1.index() + 1, {write_command(h.now_ms(), h.stamp(put_request("k", "v2")))});
  ASSERT_TRUE(h.sm().apply_uncommitted(std::span(&e2, 1), sink).is_ok());
  // Both answered, computed on the uncommitted state (the second put sees the first)...
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].response.code(), pb::OK);
  EXPECT_EQ(answers[1].index.value, e2.index());
  // ...which readers and applied_index() do not see until the commit.
  EXPECT_LT(h.sm().applied_index().value, e1.index());
  EXPECT_FALSE(h.get("k").has_value());
  ASSERT_TRUE(h.sm().commit().is_ok());
  EXPECT_EQ(h.sm().applied_index().value, e2.index());
  EXPECT_EQ(h.get("k")->value(), "v2");
  EXPECT_EQ(h.get("k")->version(), 2u);
}

TEST(Apply, AFailedUncommittedBatchDropsEverythingUncommitted) {
  KvHarness h;
  raft::pb::Entry good = entry(h.next_index(), {write_command(h.now_ms(), h.stamp(put_request("a", "1")))});
  auto ignore = [](AppliedBatch) {};
  ASSERT_TRUE(h.sm().apply_uncommitted(std::span(&good, 1), ignore).is_ok());
  raft::pb::Entry bad = good;
  bad.set_index(good.index() + 1);
  bad.set_data("not a command batch");
  EXPECT_EQ(h.sm().apply_uncommitted(std::span(&bad, 1), ignore).code(), Code::kCorruption);
  // Nothing that was uncommitted may become durable through a later commit.
  ASSERT_TRUE(h.sm().commit().is_ok());
  EXPECT_EQ(h.sm().applied_index().value, good.index() - 1);
  EXPECT_FALSE(h.get("a").has_value());
}

TEST(Apply, EmptyNormalEntryIsAnEmptyBatch) {
  KvHarness h;
  raft::pb::Entry e = noop_entry(h.next_index());
  e.set_type(raft::pb::ENTRY_NORMAL);
  auto applied = h.sm().apply(std::span(&e, 1));
  ASSERT_TRUE(applied.is_ok());
  EXPECT_TRUE(applied->empty());
  EXPECT_EQ(h.sm().applied_index().value, e.index());
}

TEST(Apply, CommandWithoutABodyIsRefusedAsInvalid) {
  KvHarness h;
  pb::Command empty;
  empty.set_timestamp_ms(h.now_ms());
  auto applied = h.apply({empty});
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].response.code(), pb::INVALID_ARGUMENT);
}

TEST(Apply, AppliedIndexStartsAtZeroAndSurvivesReopen) {
  testing::TempDir dir;
  StateMachineOptions options;
  options.data_dir = dir.path();
  {
    auto sm = StateMachine::open(options);
    ASSERT_TRUE(sm.is_ok());
    EXPECT_EQ((*sm)->applied_index().value, 0u);
    raft::pb::Entry e = noop_entry(1);
    ASSERT_TRUE((*sm)->apply(std::span(&e, 1)).is_ok());
    EXPECT_TRUE((*sm)->sync().is_ok());
  }
  auto sm = StateMachine::open(options);
  ASSERT_TRUE(sm.is_ok());
  EXPECT_EQ((*sm)->applied_index().value, 1u);
}

// LMDB reads pages through a memory map: a data.mdb shorter than its meta page says (writes
// lost in a power cut) must be a named refusal, not a SIGBUS.
TEST(Apply, StateFileShorterThanItsMetaPageIsRefusedAsCorruption) {
  KvHarness h;
  for (int i = 0; i < 100; ++i) h.put("k" + std::to_string(i), std::string(1000, 'v'));
  h.close();
  const std::filesystem::path file = std::filesystem::path(h.dir()) / "kv" / "data.mdb";
  ASSERT_GT(std::filesystem::file_size(file), 16u * 4096);
  std::filesystem::resize_file(file, 4u * 4096);
  auto sm = StateMachine::open(h.options());
  ASSERT_FALSE(sm.is_ok());
  EXPECT_EQ(sm.status().code(), Code::kCorruption);
  EXPECT_NE(sm.status().message().find("never reached the disk"), std::string::npos) << sm.status().message();
}

}  // namespace
}  // namespace castor::kv
