// Applier (kv/server/applier.h): committed entries, the leader's snapshots and the node's own
// snapshots reach a real state machine in log order, and their outcomes come back through the
// host on the "io thread" (here: the test's thread, draining what the Applier posted).
#include "kv/server/applier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::entry;
using testing::noop_entry;
using testing::register_command;

// Queues what the Applier posts; the test runs it on its own thread, as the io thread would,
// and records every report in the order the host saw them.
class FakeHost : public ApplierHost {
 public:
  void post(std::function<void()> job) override {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    wake_.notify_all();
  }
  void batch_applied(AppliedBatch batch) override {
    events.push_back("answers " + std::to_string(batch.answers.size()) + ", events " +
                     std::to_string(batch.events.size()));
  }
  void applied_moved(std::optional<raft::LogIndex> snapshot) override {
    events.push_back(snapshot ? "installed " + std::to_string(snapshot->value) : "applied");
  }
  void snapshot_taken(Result<SnapshotInfo> info, std::string data) override {
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    events.push_back("snapshot " + std::to_string(info->index.value));
    taken = {*info, std::move(data)};
  }
  void apply_failed(const Status& s) override { events.push_back("failed: " + s.message()); }

  // Runs posted jobs until `done` holds; false if 10 s pass first.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      std::unique_lock lock(mu_);
      if (!wake_.wait_until(lock, deadline, [this] { return !jobs_.empty(); })) return false;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
    }
    return true;
  }

  std::vector<std::string> events;
  std::pair<SnapshotInfo, std::string> taken;

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
};

struct Node {
  Node() {
    StateMachineOptions options;
    options.data_dir = dir.path();
    auto opened = StateMachine::open(options);
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    sm = std::move(*opened);
    applier = std::make_unique<Applier>(*sm, metrics, host);
  }
  ~Node() { applier->join(); }

  castor::testing::TempDir dir;
  std::unique_ptr<StateMachine> sm;
  ServerMetrics metrics;
  FakeHost host;
  std::unique_ptr<Applier> applier;
};

bool applied_to(Node& n, uint64_t index) {
  return n.host.run_until([&] { return n.applier->applied() >= raft::LogIndex(index); });
}

TEST(Applier, WritersHearBeforeTheAppliedIndexMovesForReaders) {
  Node n;
  n.applier->apply({entry(1, {register_command(1000)}), noop_entry(2)});
  ASSERT_TRUE(applied_to(n, 2));
  EXPECT_EQ(n.applier->applied(), raft::LogIndex(2));
  ASSERT_GE(n.host.events.size(), 2u);
  EXPECT_EQ(n.host.events.front(), "answers 1, events 0");
  EXPECT_EQ(n.host.events.back(), "applied");
  EXPECT_EQ(n.sm->applied_index(), raft::LogIndex(2)) << "readers are told only once it is committed";
}

TEST(Applier, Paper7_ASnapshotCoversEverythingQueuedBeforeIt) {
  Node n;
  n.applier->apply({entry(1, {register_command(1000)}), noop_entry(2), noop_entry(3)});
  n.applier->take_snapshot();
  ASSERT_TRUE(n.host.run_until([&] { return !n.host.taken.second.empty(); }));
  EXPECT_EQ(n.host.taken.first.index, raft::LogIndex(3));
  EXPECT_EQ(n.host.events.back(), "snapshot 3");
}

TEST(Applier, Paper7_TheLeadersSnapshotAppliesBeforeTheEntriesAfterIt) {
  Node leader;
  leader.applier->apply({entry(1, {register_command(1000)}), noop_entry(2), noop_entry(3)});
  leader.applier->take_snapshot();
  ASSERT_TRUE(leader.host.run_until([&] { return !leader.host.taken.second.empty(); }));

  Node follower;
  raft::pb::Snapshot snapshot;
  snapshot.mutable_meta()->set_index(3);
  snapshot.set_data(leader.host.taken.second);
  follower.applier->install(snapshot);
  follower.applier->apply({noop_entry(4)});
  ASSERT_TRUE(applied_to(follower, 4));
  EXPECT_EQ(follower.host.events, (std::vector<std::string>{"installed 3", "applied"}));
  EXPECT_EQ(follower.metrics.snapshots_installed.value(), 1u);
}

TEST(Applier, AStateMachineFailureIsReportedAndTheIndexStays) {
  Node n;
  raft::pb::Snapshot garbage;
  garbage.mutable_meta()->set_index(9);
  garbage.set_data("not a snapshot");
  n.applier->install(garbage);
  ASSERT_TRUE(n.host.run_until([&] { return !n.host.events.empty(); }));
  EXPECT_EQ(n.host.events.at(0).rfind("failed: ", 0), 0u) << n.host.events.at(0);
  EXPECT_EQ(n.applier->applied(), raft::LogIndex(0));
}

}  // namespace
}  // namespace castor::kv
