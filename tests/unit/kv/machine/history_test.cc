// History (kv/machine/history.h) through the state machine: every write that takes a revision
// leaves its events under it, in order and whole; a write that changes nothing leaves none;
// the window trims whole revisions from the oldest, by count and by bytes; a page never splits
// a revision; a restart keeps the history, a restored snapshot and state written without
// history start it again, and a start below the floor reads as compacted, never as a gap.
#include "kv/machine/history.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::delete_request;
using testing::KvHarness;
using testing::put_request;
using testing::txn_request;

constexpr uint64_t kPageBytes = 1 << 20;

// "PUT k=v@rev (prev=old)" or "DELETE k@rev (prev=old)": an event as one comparable line.
std::string line(const pb::Event& e) {
  std::string out = (e.type() == pb::Event::PUT ? "PUT " : "DELETE ") + e.kv().key();
  if (e.type() == pb::Event::PUT) out += "=" + e.kv().value();
  out += "@" + std::to_string(e.kv().mod_revision());
  if (e.has_prev_kv()) out += " (prev=" + e.prev_kv().value() + ")";
  return out;
}

std::vector<std::string> lines(const std::vector<pb::Event>& events) {
  std::vector<std::string> out;
  for (const pb::Event& e : events) out.push_back(line(e));
  return out;
}

HistoryPage read(KvHarness& h, uint64_t after, uint64_t page_bytes = kPageBytes) {
  auto page = h.sm().read_history(after, page_bytes);
  EXPECT_TRUE(page.is_ok()) << page.status().to_string();
  return page.is_ok() ? *page : HistoryPage{};
}

TEST(History, EveryWriteThatTakesARevisionLeavesItsEventsInOrder) {
  KvHarness h;
  h.put("a", "1");    // revision 1
  h.put("a", "2");    // 2
  h.del("absent");    // changes nothing
  h.put("p/x", "x");  // 3
  h.put("p/y", "y");  // 4
  pb::DeleteRangeRequest prefix;
  prefix.set_key("p/");
  prefix.set_prefix(true);
  pb::WriteRequest range_delete;
  *range_delete.mutable_delete_range() = prefix;
  h.write(range_delete);  // 5: one event per key
  pb::TxnRequest t;
  *t.add_success()->mutable_put() = put_request("b", "1").put();
  *t.add_success()->mutable_delete_key() = delete_request("a").delete_key();
  h.txn(t);  // 6: both ops share it
  const HistoryPage page = read(h, 0);
  EXPECT_EQ(lines(page.events),
            (std::vector<std::string>{"PUT a=1@1", "PUT a=2@2 (prev=1)", "PUT p/x=x@3", "PUT p/y=y@4",
                                      "DELETE p/x@5 (prev=x)", "DELETE p/y@5 (prev=y)", "PUT b=1@6",
                                      "DELETE a@6 (prev=2)"}));
  EXPECT_EQ(page.through, 6u);
  EXPECT_EQ(page.floor, 0u);
  EXPECT_EQ(lines(read(h, 4).events).size(), 4u) << "only the events after revision 4";
}

TEST(History, TheLiveEventsAreTheOnesKept) {
  KvHarness h;
  raft::pb::Entry e =
      testing::entry(h.next_index(), {testing::write_command(h.now_ms(), h.stamp(put_request("k", "v")))});
  AppliedBatch seen;
  ASSERT_TRUE(
      h.sm().apply_uncommitted(std::span(&e, 1), [&](AppliedBatch b) { seen = std::move(b); }).is_ok());
  ASSERT_TRUE(h.sm().commit().is_ok());
  EXPECT_EQ(lines(seen.events), (std::vector<std::string>{"PUT k=v@1"}));
  EXPECT_EQ(seen.revision, 1u);
  EXPECT_EQ(lines(read(h, 0).events), lines(seen.events));
}

TEST(History, TheWindowDropsWholeRevisionsFromTheOldestByCount) {
  StateMachineOptions options;
  options.history.revisions_max = 3;
  KvHarness h(options);
  for (int i = 1; i <= 5; ++i) h.put("k", std::to_string(i));
  const HistoryPage compacted = read(h, 1);
  EXPECT_TRUE(compacted.compacted) << "a start below the floor is refused, not gapped";
  EXPECT_TRUE(compacted.events.empty());
  const HistoryPage page = read(h, 2);
  EXPECT_EQ(page.floor, 2u);
  EXPECT_EQ(lines(page.events),
            (std::vector<std::string>{"PUT k=3@3 (prev=2)", "PUT k=4@4 (prev=3)", "PUT k=5@5 (prev=4)"}));
}

TEST(History, TheWindowDropsWholeRevisionsFromTheOldestByBytes) {
  StateMachineOptions options;
  options.history.bytes_max = 2000;
  KvHarness h(options);
  const std::string big(600, 'x');
  for (int i = 0; i < 4; ++i) h.put("k" + std::to_string(i), big);
  const HistoryPage page = read(h, h.sm().revision() - 1);
  EXPECT_GT(page.floor, 0u) << "four 600-byte events do not fit 2,000 bytes";
  EXPECT_EQ(read(h, page.floor).events.size(), 4 - page.floor);
}

TEST(History, APageNeverSplitsARevision) {
  KvHarness h;
  for (const char* k : {"p/1", "p/2", "p/3"}) h.put(k, "v");
  pb::WriteRequest range_delete;
  range_delete.mutable_delete_range()->set_key("p/");
  range_delete.mutable_delete_range()->set_prefix(true);
  h.write(range_delete);  // revision 4: three events
  h.put("after", "v");    // 5
  const HistoryPage page = read(h, 3, /*page_bytes=*/1);
  EXPECT_EQ(page.events.size(), 3u) << "all of revision 4 and nothing of 5";
  EXPECT_EQ(page.through, 4u);
  EXPECT_EQ(lines(read(h, page.through, 1).events), (std::vector<std::string>{"PUT after=v@5"}));
}

TEST(History, ARestartKeepsIt) {
  KvHarness h;
  h.put("a", "1");
  h.put("a", "2");
  const auto before = lines(read(h, 0).events);
  h.reopen();
  EXPECT_EQ(lines(read(h, 0).events), before);
  h.put("a", "3");
  EXPECT_EQ(lines(read(h, 2).events), (std::vector<std::string>{"PUT a=3@3 (prev=2)"}));
}

TEST(History, ARestoredSnapshotStartsItAtTheSnapshotsRevision) {
  KvHarness leader;
  for (int i = 0; i < 3; ++i) leader.put("k", std::to_string(i));
  std::string stream;
  ASSERT_TRUE(leader.sm()
                  .snapshot(1 << 20,
                            [&](std::string_view chunk) {
                              stream.append(chunk);
                              return Status::ok();
                            })
                  .is_ok());
  KvHarness follower;
  follower.put("other", "x");
  bool served = false;
  auto restored = follower.sm().restore([&]() -> Result<std::string> {
    if (served) return std::string();
    served = true;
    return stream;
  });
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  EXPECT_TRUE(read(follower, 0).compacted);
  const HistoryPage page = read(follower, 3);
  EXPECT_TRUE(page.events.empty());
  EXPECT_EQ(page.floor, 3u);
}

TEST(History, StateWrittenWithoutHistoryStartsItAtTheRevisionOpened) {
  KvHarness h;
  h.put("a", "1");
  h.put("a", "2");
  h.close();
  {
    // What a Castor without history leaves: no marks (and no records).
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 8), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_open(env, (h.dir() + "/kv").c_str(), 0, 0644), MDB_SUCCESS);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
    MDB_dbi marks;
    ASSERT_EQ(mdb_dbi_open(txn, "history_marks", 0, &marks), MDB_SUCCESS);
    ASSERT_EQ(mdb_drop(txn, marks, 0), MDB_SUCCESS);
    ASSERT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
    mdb_env_close(env);
  }
  h.reopen();
  EXPECT_TRUE(read(h, 0).compacted);
  EXPECT_EQ(read(h, 2).floor, 2u);
  h.put("a", "3");
  EXPECT_EQ(lines(read(h, 2).events), (std::vector<std::string>{"PUT a=3@3 (prev=2)"}));
}

}  // namespace
}  // namespace castor::kv
