#include "kv/machine/apply_queue.h"

#include <utility>

namespace castor::kv {

ApplyQueue::ApplyQueue(ApplyFn apply, CommitFn commit, Options options)
    : apply_(std::move(apply)), commit_(std::move(commit)), options_(options), thread_([this] { loop(); }) {}

ApplyQueue::~ApplyQueue() { join(); }

void ApplyQueue::apply(std::vector<raft::pb::Entry> entries) {
  if (entries.empty()) return;
  push(Item{std::move(entries), {}});
}

void ApplyQueue::run(std::function<void()> job) { push(Item{{}, std::move(job)}); }

void ApplyQueue::push(Item item) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(item));
  }
  wake_.notify_one();
}

void ApplyQueue::commit_soon() {
  {
    std::lock_guard lock(mu_);
    if (commit_requested_) return;
    commit_requested_ = true;
  }
  wake_.notify_one();
}

void ApplyQueue::join() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void ApplyQueue::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto has_work = [this] { return closing_ || !queue_.empty() || (commit_requested_ && uncommitted_); };
    if (uncommitted_) {
      wake_.wait_until(lock, uncommitted_since_ + options_.commit_interval, has_work);
    } else {
      wake_.wait(lock, has_work);
    }
    std::deque<Item> items = std::exchange(queue_, {});
    const bool closing = closing_;
    lock.unlock();
    process(std::move(items));
    lock.lock();
    const bool due = Clock::now() >= uncommitted_since_ + options_.commit_interval;
    if (uncommitted_ && (commit_requested_ || due || (closing && queue_.empty()))) {
      lock.unlock();
      commit();
      lock.lock();
    }
    if (closing && queue_.empty() && !uncommitted_) return;
  }
}

void ApplyQueue::process(std::deque<Item> items) {
  std::vector<raft::pb::Entry> batch;
  uint64_t bytes = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    apply_(std::exchange(batch, {}));
    if (!uncommitted_) uncommitted_since_ = Clock::now();
    uncommitted_ = true;
    uncommitted_bytes_ += std::exchange(bytes, 0);
    if (uncommitted_bytes_ >= options_.batch_bytes_max) commit();
  };
  for (Item& item : items) {
    if (item.job) {
      flush();
      if (uncommitted_) commit();
      item.job();
      continue;
    }
    for (raft::pb::Entry& e : item.entries) {
      if (bytes >= options_.batch_bytes_max) flush();
      bytes += e.data().size();
      batch.push_back(std::move(e));
    }
  }
  flush();
}

void ApplyQueue::commit() {
  {
    // A request made before this commit is answered by it.
    std::lock_guard lock(mu_);
    commit_requested_ = false;
  }
  commit_();
  uncommitted_ = false;
  uncommitted_bytes_ = 0;
}

}  // namespace castor::kv
