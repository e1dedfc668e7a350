// ReadyLoop (raft/ready_loop.h): the order castord handles a Ready in, checked on a follower
// fed by a hand-written leader, with a host that records every call and persists when told.
#include "raft/ready_loop.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/memory_log.h"
#include "tests/unit/raft/test_cluster.h"

namespace castor::raft {
namespace {

using namespace testing;  // NOLINT: test helpers

// Records what the loop asks, in order ("send MSG_APP_RESP", "apply 1-2", "persist 3", ...),
// and holds each persist until the test finishes it.
class RecordingHost : public ReadyHost {
 public:
  explicit RecordingHost(MemoryLog& log) : log_(log) {}
  void on_soft_state(const SoftState&) override {}
  void send(const pb::Message& m) override { calls.push_back("send " + pb::MessageType_Name(m.type())); }
  void apply(std::vector<pb::Entry> committed) override {
    calls.push_back("apply " + std::to_string(committed.front().index()) + "-" +
                    std::to_string(committed.back().index()));
  }
  void persist(const Ready& rd) override {
    calls.push_back("persist " + std::to_string(rd.entries.size()) + (rd.hard_state ? " +hs" : ""));
    pending = &rd;
  }
  void install_snapshot(const pb::Snapshot&) override { calls.push_back("install"); }
  void reads_released(std::vector<ReadState>) override {}
  void fatal(const Status& s) override { calls.push_back("fatal " + s.to_string()); }
  void turn_finished() override { calls.push_back("finished"); }

  // Makes the held Ready durable and tells the loop.
  void finish_persist(ReadyLoop& loop) {
    ASSERT_NE(pending, nullptr);
    log_.append(pending->hard_state, pending->entries);
    pending = nullptr;
    loop.persisted(Status::ok());
  }

  std::vector<std::string> calls;
  const Ready* pending = nullptr;

 private:
  MemoryLog& log_;
};

// An append from leader 1 (term 1) to node 2: entries after `prev` and the leader's commit.
pb::Message append(uint64_t prev, std::vector<uint64_t> indexes, uint64_t commit) {
  pb::Message m = msg(pb::MSG_APP, 1, 2, 1);
  m.set_index(prev);
  m.set_log_term(prev == 0 ? 0 : 1);
  m.set_commit(commit);
  for (uint64_t i : indexes) *m.add_entries() = entry(i, 1, "e" + std::to_string(i));
  return m;
}

struct Follower {
  Follower(LoopBug bug = LoopBug::kNone) : log(conf_of(3)), node(config_for(2), log), host(log) {
    loop = std::make_unique<ReadyLoop>(node, host, log.hard_state(), bug);
  }
  MemoryLog log;
  Node node;
  RecordingHost host;
  std::unique_ptr<ReadyLoop> loop;
};

// Thesis 3.8 / paper 5.3: an acknowledgement promises the entries are durable, so it is sent
// only once the persist finished.
TEST(ReadyLoop, AnAppendIsAcknowledgedOnlyAfterItsPersist) {
  Follower f;
  step_ok(f.node, append(0, {1, 2}, 0));
  f.loop->drive();
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"persist 2 +hs"}));
  EXPECT_TRUE(f.loop->persisting());
  f.host.finish_persist(*f.loop);
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"persist 2 +hs", "send MSG_APP_RESP", "finished"}));
  EXPECT_FALSE(f.loop->persisting());
}

TEST(ReadyLoop, ThePlantedAckBeforeFsyncSendsFirst) {
  Follower f(LoopBug::kAckBeforeFsync);
  step_ok(f.node, append(0, {1, 2}, 0));
  f.loop->drive();
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"send MSG_APP_RESP", "persist 2 +hs"}));
}

// Committed entries are durable already, so they go to apply before this Ready's persist.
TEST(ReadyLoop, CommittedEntriesApplyBeforeThePersistOfNewOnes) {
  Follower f;
  step_ok(f.node, append(0, {1, 2}, 0));
  f.loop->drive();
  f.host.finish_persist(*f.loop);
  f.host.calls.clear();
  step_ok(f.node, append(2, {3}, 2));
  f.loop->drive();
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"apply 1-2", "persist 1 +hs"}));
}

// Paper figure 2: the commit index is volatile; a hard state that only moves it waits for the
// next write that must be durable anyway.
TEST(ReadyLoop, AHardStateThatOnlyMovesTheCommitIndexRidesWithTheNextWrite) {
  Follower f;
  step_ok(f.node, append(0, {1, 2}, 0));
  f.loop->drive();
  f.host.finish_persist(*f.loop);
  f.host.calls.clear();
  step_ok(f.node, append(2, {}, 2));  // a heartbeat-like append that commits 1-2
  f.loop->drive();
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"apply 1-2", "send MSG_APP_RESP", "finished"}));
  f.host.calls.clear();
  step_ok(f.node, append(2, {3}, 2));
  f.loop->drive();
  ASSERT_NE(f.host.pending, nullptr);
  ASSERT_TRUE(f.host.pending->hard_state.has_value());
  EXPECT_EQ(f.host.pending->hard_state->commit(), 2u);
}

// While a persist is outstanding the loop takes no new Ready; a failed persist is fatal.
TEST(ReadyLoop, NoNewReadyWhilePersistingAndAFailedPersistIsFatal) {
  Follower f;
  step_ok(f.node, append(0, {1}, 0));
  f.loop->drive();
  step_ok(f.node, append(1, {2}, 0));
  EXPECT_FALSE(f.loop->has_work());
  f.loop->drive();
  EXPECT_EQ(f.host.calls, (std::vector<std::string>{"persist 1 +hs"}));
  f.host.pending = nullptr;
  f.loop->persisted(Status(Code::kInternal, "disk"));
  ASSERT_EQ(f.host.calls.size(), 2u);
  EXPECT_EQ(f.host.calls[1].rfind("fatal", 0), 0u);
}

}  // namespace
}  // namespace castor::raft
