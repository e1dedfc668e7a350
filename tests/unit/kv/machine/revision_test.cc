// The store revision (kv.proto, ResponseHeader): one per write that changes the key space, the
// same on every replica, carried across restarts and snapshots, never shared by two values.
#include <gtest/gtest.h>
#include <lmdb.h>

#include "kv/client/request_builders.h"
#include "kv/machine/encoding.h"
#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::delete_request;
using testing::entry;
using testing::KvHarness;
using testing::noop_entry;
using testing::put_request;
using testing::txn_request;
using testing::write_command;

// Applies `writes` (stamped with the harness's session) as one Raft entry, as a leader batches
// concurrent proposals.
std::vector<AppliedCommand> apply_batched(KvHarness& h, const std::vector<pb::WriteRequest>& writes) {
  std::vector<pb::Command> commands;
  for (const pb::WriteRequest& w : writes) commands.push_back(write_command(h.now_ms(), h.stamp(w)));
  return h.apply(commands);
}

TEST(Revision, TwoValuesOfOneKeyInOneEntryNeverShareAModRevision) {
  KvHarness h;
  auto applied = apply_batched(h, {put_request("k", "x"), put_request("k", "y", true)});
  ASSERT_EQ(applied.size(), 2u);
  const uint64_t x_revision = applied[0].response.header().revision();
  const pb::KeyValue& seen_by_y = applied[1].response.write().put().prev_kv();
  EXPECT_EQ(seen_by_y.value(), "x");
  EXPECT_EQ(seen_by_y.mod_revision(), x_revision);
  EXPECT_EQ(h.get("k")->mod_revision(), applied[1].response.header().revision());
  EXPECT_NE(h.get("k")->mod_revision(), x_revision);
}

// The fencing recipe: "I wrote at R; change it only if mod_revision is still R". It must fail
// once someone else wrote, even when both writes came in one entry.
TEST(Revision, ACasGuardedOnAnOverwrittenWritesRevisionFails) {
  KvHarness h;
  auto applied = apply_batched(h, {put_request("lock", "me"), put_request("lock", "other")});
  ASSERT_EQ(applied.size(), 2u);
  const uint64_t mine = applied[0].response.header().revision();
  pb::TxnResponse r =
      h.txn(cas(compare_mod_revision("lock", pb::Compare::EQUAL, mine), "lock", "mine again"));
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(h.get("lock")->value(), "other");
}

TEST(Revision, ATxnTakesOneRevisionForAllItsWrites) {
  KvHarness h;
  h.put("gone", "v");
  const uint64_t before = h.sm().revision();
  pb::TxnRequest t;
  t.add_success()->mutable_put()->set_key("a");
  t.add_success()->mutable_put()->set_key("b");
  t.add_success()->mutable_delete_key()->set_key("gone");
  pb::ClientResponse r = h.write(txn_request(t));
  EXPECT_EQ(r.header().revision(), before + 1);
  EXPECT_EQ(h.get("a")->mod_revision(), before + 1);
  EXPECT_EQ(h.get("b")->create_revision(), before + 1);
  EXPECT_EQ(h.sm().revision(), before + 1);
}

TEST(Revision, WritesThatChangeNothingTakeNone) {
  KvHarness h;
  h.put("k", "v");
  const uint64_t before = h.sm().revision();
  pb::TxnRequest failed;  // a compare that fails, and no failure branch
  *failed.add_compares() = compare_version("k", pb::Compare::EQUAL, 7);
  failed.add_success()->mutable_put()->set_key("k");
  pb::TxnRequest reads_only;
  reads_only.add_success()->mutable_get()->set_key("k");
  pb::WriteRequest nothing_in_range;
  nothing_in_range.mutable_delete_range()->set_key("absent/");
  nothing_in_range.mutable_delete_range()->set_prefix(true);
  for (const pb::WriteRequest& w :
       {delete_request("absent"), txn_request(failed), txn_request(reads_only), nothing_in_range}) {
    pb::ClientResponse r = h.write(w);
    EXPECT_EQ(r.code(), pb::OK) << r.message();
    EXPECT_EQ(r.header().revision(), before) << w.ShortDebugString();
  }
  EXPECT_EQ(h.sm().revision(), before);
  EXPECT_EQ(h.put("k", "w").header().revision(), before + 1);
}

TEST(Revision, ARegistrationTakesNone) {
  KvHarness h;
  h.put("k", "v");
  const uint64_t before = h.sm().revision();
  h.register_client();
  EXPECT_EQ(h.sm().revision(), before);
}

TEST(Revision, ADuplicateIsAnsweredWithTheRevisionItFirstTook) {
  KvHarness h;
  pb::WriteRequest w = h.stamp(put_request("k", "v"));
  pb::ClientResponse first = h.send(w);
  pb::WriteRequest other = put_request("other", "1");  // while w's answer is still outstanding
  other.set_client_id(h.client_id());
  other.set_seq(w.seq() + 1);
  other.set_lowest_outstanding_seq(w.seq());
  ASSERT_EQ(h.send(other).code(), pb::OK);
  pb::ClientResponse again = h.send(w);
  EXPECT_EQ(again.header().revision(), first.header().revision());
  EXPECT_EQ(h.get("k")->version(), 1u);
  EXPECT_EQ(h.sm().revision(), first.header().revision() + 1);
}

TEST(Revision, SurvivesARestartAndReplayTakesNoneTwice) {
  KvHarness h;
  std::vector<raft::pb::Entry> log;
  for (int i = 0; i < 3; ++i) {
    log.push_back(entry(h.next_index() + i, {write_command(h.now_ms(), h.stamp(put_request("k", "v")))}));
  }
  ASSERT_TRUE(h.sm().apply(log).is_ok());
  const uint64_t revision = h.sm().revision();
  h.reopen();
  EXPECT_EQ(h.sm().revision(), revision);
  ASSERT_TRUE(h.sm().apply(log).is_ok());
  EXPECT_EQ(h.sm().revision(), revision);
}

TEST(Revision, AFailedBatchTakesNoneAndTheNextContinuesFromTheStoredOne) {
  KvHarness h;
  h.put("k", "v");
  const uint64_t before = h.sm().revision();
  raft::pb::Entry bad = noop_entry(h.next_index() + 1);
  bad.set_type(raft::pb::ENTRY_NORMAL);
  bad.set_data("\xff\xff\xff");
  raft::pb::Entry entries[] = {
      entry(h.next_index(), {write_command(h.now_ms(), h.stamp(put_request("a", "v")))}), bad};
  EXPECT_FALSE(h.sm().apply(entries).is_ok());
  EXPECT_EQ(h.sm().revision(), before);
  auto retry = h.sm().apply(std::span(entries, 1));
  ASSERT_TRUE(retry.is_ok());
  EXPECT_EQ(retry->at(0).response.header().revision(), before + 1);
}

TEST(Revision, ASnapshotCarriesItAndTheRestoredStoreContinuesFromIt) {
  KvHarness from;
  for (int i = 0; i < 5; ++i) from.put("k" + std::to_string(i), "v");
  std::string stream;
  ASSERT_TRUE(from.sm()
                  .snapshot(1 << 16,
                            [&stream](std::string_view chunk) {
                              stream.append(chunk);
                              return Status::ok();
                            })
                  .is_ok());
  KvHarness to;
  bool served = false;
  auto restored = to.sm().restore([&]() -> Result<std::string> {
    if (served) return std::string();
    served = true;
    return stream;
  });
  ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
  EXPECT_EQ(to.sm().revision(), from.sm().revision());
  EXPECT_EQ(to.get("k4")->mod_revision(), from.sm().revision());
  // The next write after the snapshot's index (without a session: the restored table holds
  // the other store's) continues from the carried revision.
  pb::WriteRequest sessionless = put_request("next", "v");
  sessionless.set_seq(1);  // the proposer's tag (kv.proto, WriteRequest)
  raft::pb::Entry next = entry(restored->index.value + 1, {write_command(to.now_ms(), sessionless)});
  auto applied = to.sm().apply(std::span(&next, 1));
  ASSERT_TRUE(applied.is_ok());
  EXPECT_EQ(applied->at(0).response.header().revision(), from.sm().revision() + 1);
}

// The harness's store with its format version overwritten, as an older Castor left it.
void set_format_version(const std::string& data_dir, uint64_t version) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 8), MDB_SUCCESS);
  ASSERT_EQ(mdb_env_open(env, (data_dir + "/kv").c_str(), 0, 0644), MDB_SUCCESS);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
  MDB_dbi meta;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), MDB_SUCCESS);
  std::string key = "format_version";
  std::string value = u64_key(version);
  MDB_val k{key.size(), key.data()};
  MDB_val v{value.size(), value.data()};
  ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), MDB_SUCCESS);
  ASSERT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
  mdb_env_close(env);
}

TEST(Revision, StateOfFormatVersionOneIsRefusedWithWhatToDo) {
  KvHarness h;
  h.put("k", "v");
  h.close();
  set_format_version(h.dir(), 1);
  auto opened = StateMachine::open(h.options());
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), Code::kCorruption);
  EXPECT_NE(opened.status().message().find("revisions were Raft indexes"), std::string::npos)
      << opened.status().message();
  EXPECT_NE(opened.status().message().find("new cluster"), std::string::npos);
}

// The planted switch the chaos harness must catch: with it, writes batched into one entry
// share the entry's index, as before format version 2.
TEST(Revision, TheUnsafeSwitchMakesBatchedWritesShareTheEntryIndex) {
  StateMachineOptions unsafe;
  unsafe.unsafe_revision_per_entry = true;
  KvHarness h(unsafe);
  const uint64_t index = h.next_index();
  auto applied = apply_batched(h, {put_request("k", "x"), put_request("k", "y")});
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].response.header().revision(), index);
  EXPECT_EQ(applied[1].response.header().revision(), index);
}

}  // namespace
}  // namespace castor::kv
