// ApplyQueue: entries queued while the apply thread is busy reach the state machine in one
// batch, in log order; writes are committed once per interval, at once when a reader asks, and
// before every job; join() applies and commits everything queued.
#include "kv/machine/apply_queue.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace castor::kv {
namespace {

using namespace std::chrono_literals;

std::vector<raft::pb::Entry> entries(uint64_t first, uint64_t n, size_t data_bytes = 1) {
  std::vector<raft::pb::Entry> out;
  for (uint64_t i = first; i < first + n; ++i) {
    raft::pb::Entry e;
    e.set_index(i);
    e.set_data(std::string(data_bytes, 'x'));
    out.push_back(e);
  }
  return out;
}

// Records what the apply thread ran: "apply 2-6" for a batch, "commit", or a job's name. With
// hold_first_batch(), its first batch waits until release() so that the test can queue work
// while the thread is busy, as it is during a long apply.
class Recorder {
 public:
  ApplyQueue::ApplyFn apply_fn() {
    return [this](std::vector<raft::pb::Entry> batch) {
      if (std::exchange(hold_, false)) {
        entered_.set_value();
        release_.get_future().wait();
      }
      for (size_t i = 1; i < batch.size(); ++i) EXPECT_EQ(batch[i].index(), batch[i - 1].index() + 1);
      record("apply " + std::to_string(batch.front().index()) + "-" + std::to_string(batch.back().index()));
    };
  }
  ApplyQueue::CommitFn commit_fn() {
    return [this] { record("commit"); };
  }
  std::function<void()> job(std::string name) {
    return [this, name] { record(name); };
  }
  void hold_first_batch() { hold_ = true; }
  void wait_until_held() { entered_.get_future().wait(); }
  void release() { release_.set_value(); }
  // Waits (up to a generous bound, so that a broken queue fails instead of hanging) for the
  // n-th commit.
  bool wait_for_commits(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 20s, [&] { return commits_ >= n; });
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  void record(std::string event) {
    std::lock_guard lock(mu_);
    if (event == "commit") ++commits_;
    events_.push_back(std::move(event));
    changed_.notify_all();
  }
  bool hold_ = false;  // set before the queue exists, then the apply thread's
  std::promise<void> entered_;
  std::promise<void> release_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> events_;
  int commits_ = 0;
};

ApplyQueue::Options options(std::chrono::steady_clock::duration interval, uint64_t bytes = 1 << 20) {
  return ApplyQueue::Options{interval, bytes};
}

// Applies entry 1, queues what `queue_more` queues while the thread is still busy with it,
// then lets the thread go and joins: what the thread ran, in order.
std::vector<std::string> run_while_busy(ApplyQueue::Options o,
                                        const std::function<void(ApplyQueue&, Recorder&)>& queue_more) {
  Recorder rec;
  rec.hold_first_batch();
  ApplyQueue q(rec.apply_fn(), rec.commit_fn(), o);
  q.apply(entries(1, 1));
  rec.wait_until_held();
  queue_more(q, rec);
  rec.release();
  q.join();
  return rec.events();
}

TEST(ApplyQueue, EntriesQueuedWhileBusyApplyAsOneBatchAndOneCommit) {
  auto events = run_while_busy(options(1h), [](ApplyQueue& q, Recorder&) {
    q.apply(entries(2, 2));
    q.apply(entries(4, 3));
  });
  EXPECT_EQ(events, (std::vector<std::string>{"apply 1-1", "apply 2-6", "commit"}));
}

TEST(ApplyQueue, AJobRunsAfterACommitOfEverythingBeforeIt) {
  auto events = run_while_busy(options(1h), [](ApplyQueue& q, Recorder& rec) {
    q.apply(entries(2, 2));
    q.run(rec.job("restore"));
    q.apply(entries(4, 1));
    q.apply(entries(5, 1));
  });
  EXPECT_EQ(events,
            (std::vector<std::string>{"apply 1-1", "apply 2-3", "commit", "restore", "apply 4-5", "commit"}));
}

TEST(ApplyQueue, TheByteCapEndsBatchesAndCommits) {
  auto events = run_while_busy(options(1h, 10), [](ApplyQueue& q, Recorder&) {
    q.apply(entries(2, 5, 4));    // 4 bytes each: 2-4 reach 12 bytes, then a new batch
    q.apply(entries(7, 1, 100));  // 5-7 pass the cap with this one: the batch ends after it
    q.apply(entries(8, 1));
  });
  EXPECT_EQ(events, (std::vector<std::string>{"apply 1-1", "apply 2-4", "commit", "apply 5-7", "commit",
                                              "apply 8-8", "commit"}));
}

TEST(ApplyQueue, WritesAreCommittedWhenTheIntervalEnds) {
  Recorder rec;
  ApplyQueue q(rec.apply_fn(), rec.commit_fn(), options(5ms));
  q.apply(entries(1, 1));
  EXPECT_TRUE(rec.wait_for_commits(1));  // without join(), and without anyone asking
  q.join();
}

TEST(ApplyQueue, CommitSoonDoesNotWaitForTheInterval) {
  Recorder rec;
  ApplyQueue q(rec.apply_fn(), rec.commit_fn(), options(1h));
  q.apply(entries(1, 1));
  q.commit_soon();
  EXPECT_TRUE(rec.wait_for_commits(1));
  // Asked before the entries arrive: they are committed as soon as they are applied.
  q.commit_soon();
  q.apply(entries(2, 1));
  EXPECT_TRUE(rec.wait_for_commits(2));
  q.join();
  EXPECT_EQ(rec.events(), (std::vector<std::string>{"apply 1-1", "commit", "apply 2-2", "commit"}));
}

TEST(ApplyQueue, JoinAppliesAndCommitsEverythingQueued) {
  Recorder rec;
  ApplyQueue q(rec.apply_fn(), rec.commit_fn(), options(1h));
  for (uint64_t i = 1; i <= 100; ++i) q.apply(entries(i, 1));
  q.run(rec.job("last"));
  q.apply(entries(101, 1));
  q.join();
  const std::vector<std::string> events = rec.events();
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[events.size() - 3], "last");
  EXPECT_EQ(events[events.size() - 2], "apply 101-101");
  EXPECT_EQ(events.back(), "commit");
}

}  // namespace
}  // namespace castor::kv
