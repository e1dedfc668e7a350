// ApplyQueue: the apply thread, and the queue that feeds it committed entries and jobs.
//
// Group commit for the state machine. Entries queued while the thread is busy are handed to
// `apply` together, and `apply` leaves its writes uncommitted: `commit` (one LMDB commit and
// fsync) runs once per `commit_interval` while entries flow, not once per batch. Writers are
// answered from `apply`, before the commit (their entries are committed in the Raft log, which
// makes the answers durable), so the interval costs them nothing; a linearizable read waits
// for the commit, so the host calls commit_soon() when one is waiting. Jobs (installing a
// snapshot, taking one) run in queue order, each after a commit of what came before it.
//
// What it does NOT do: decode entries or touch LMDB: `apply` and `commit` are the caller's
// (kv/server/applier.h). Nor is the queue bounded: apply() and run() never refuse or wait for the
// apply thread.
// Threading: apply(), run() and commit_soon() from one thread (the io thread). `apply`,
// `commit` and every job run on the queue's own thread, one at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "raft/raft.pb.h"

namespace castor::kv {

class ApplyQueue {
 public:
  using ApplyFn = std::function<void(std::vector<raft::pb::Entry>)>;
  using CommitFn = std::function<void()>;
  struct Options {
    // The longest applied writes wait for `commit` while no reader asks for them.
    std::chrono::steady_clock::duration commit_interval = std::chrono::milliseconds(10);
    // A batch handed to `apply` stops growing, and the writes are committed, once this many
    // bytes of entry data are applied (at least one entry): bounds the write transaction.
    uint64_t batch_bytes_max = uint64_t{16} << 20;
  };
  ApplyQueue(ApplyFn apply, CommitFn commit, Options options);
  ~ApplyQueue();
  ApplyQueue(const ApplyQueue&) = delete;
  ApplyQueue& operator=(const ApplyQueue&) = delete;

  // Queues committed entries, in log order after everything queued before.
  void apply(std::vector<raft::pb::Entry> entries);
  // Queues a job to run after everything queued before it has been applied and committed.
  void run(std::function<void()> job);
  // Commits what is applied as soon as possible (now, or right after the next batch if none is
  // uncommitted), instead of at the end of the interval: a reader is waiting.
  void commit_soon();
  // Runs everything already queued, commits, then ends the thread. Nothing may be queued after.
  void join();

 private:
  using Clock = std::chrono::steady_clock;
  struct Item {
    std::vector<raft::pb::Entry> entries;
    std::function<void()> job;  // set for a job, empty for entries
  };
  void push(Item item);
  void loop();
  void process(std::deque<Item> items);
  void commit();

  const ApplyFn apply_;
  const CommitFn commit_;
  const Options options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;         // guarded by mu_
  bool commit_requested_ = false;  // guarded by mu_
  bool closing_ = false;           // guarded by mu_
  // The apply thread's own: whether applied writes await `commit`, since when, how many bytes.
  bool uncommitted_ = false;
  Clock::time_point uncommitted_since_;
  uint64_t uncommitted_bytes_ = 0;
  std::thread thread_;
};

}  // namespace castor::kv
