// WatchLedger: the bookkeeping of a watch benchmark (castor-bench --op watch, etcd-watch-bench),
// shared so that both stores are judged by the same rules. Writers record each put's
// acknowledgement (its revision and when it came); watchers record each event (its
// mod_revision and when it came). At the end every (watcher, measured put) pair is joined by
// revision: its latency is the event's arrival minus the acknowledgement's, 0 when the event
// came first (counted as early); a pair with no event is missed, which is an error of the
// store, not noise. A measured put is one issued inside the window after the warm-up that was
// acknowledged.
//
// What it does NOT do: time anything itself, keep events of keys the writers did not put, or
// bound memory beyond `revisions_max` per watcher (4 bytes each): a revision past
// start + revisions_max is counted as an error, not stored.
// Threading: acked() and put_failed() may run on any thread (a mutex); received() for one
// watcher on one thread at a time, different watchers concurrently; caught_up() on any thread;
// result() once nothing records any more.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "tools/castor_bench_flags.h"
#include "tools/castor_bench_proc.h"

namespace castor::tools {

// How long every watch may take to start, and the events to arrive after the last put's
// answer before what has not come counts as missed.
constexpr std::chrono::seconds kWatchStartTimeout{60};
constexpr std::chrono::seconds kWatchDrainTimeout{5};
// Puts in flight at once: past it the schedule is not kept, and each put it skips is an error.
constexpr int kPutsInFlightMax = 1024;

// The q-quantile of an ascending vector (0 when empty): the smallest value that at least
// q of the values do not exceed.
template <class T>
T quantile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return T{};
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t idx = std::min(sorted.size() - 1, static_cast<size_t>(std::max(rank, 1.0)) - 1);
  return sorted[idx];
}

struct WatchResult {
  uint64_t puts = 0;             // measured puts
  uint64_t expected_events = 0;  // puts x watchers
  uint64_t events = 0;           // of those pairs, the ones whose event came
  uint64_t early_events = 0;     // events that came before their put's acknowledgement
  // Errors, by kind: puts that failed (or that the schedule skipped), watches that failed or
  // ended early, events out of order, twice, or of a revision no put could have made.
  uint64_t put_errors = 0, watch_errors = 0, event_errors = 0;
  uint64_t errors() const { return put_errors + watch_errors + event_errors; }
  std::vector<uint32_t> latency_us;  // one per event, ascending
};

// The servers' cost: CPU over the measured window, memory at three moments.
struct WatchCosts {
  ProcSample servers_begin, servers_end;  // the measured window's edges
  ProcSample bench_begin, bench_end;      // this process, same moments
  long long rss_before_watches = -1, rss_watching = -1, rss_end = -1;
};

class WatchLedger {
 public:
  using Clock = std::chrono::steady_clock;

  WatchLedger(int watchers, uint64_t revisions_max);

  // The revision the watches start after (none of them sees it): set before the first put.
  void start_after(int64_t revision) { base_ = revision; }
  void acked(int64_t revision, bool measured, Clock::time_point at);
  void put_failed() { put_errors_.fetch_add(1); }
  void received(int watcher, int64_t revision, Clock::time_point at);
  // A watch failed or ended early; what it missed shows as missed events as well.
  void watch_failed() { watch_errors_.fetch_add(1); }
  // Every watcher has every revision acknowledged so far.
  bool caught_up() const;
  WatchResult result() const;

 private:
  struct Watcher {
    std::vector<uint32_t> at_us;  // by revision - base_ - 1; 0: not received
    std::atomic<int64_t> last{0};
  };
  uint32_t since_start_us(Clock::time_point at) const;

  const Clock::time_point start_ = Clock::now();
  const uint64_t revisions_max_;
  int64_t base_ = 0;
  std::unique_ptr<Watcher[]> watchers_;
  const int watcher_count_;
  mutable std::mutex acks_mu_;
  std::vector<uint32_t> ack_us_;  // by revision - base_ - 1; 0: not acknowledged
  std::vector<bool> measured_;
  std::atomic<int64_t> last_acked_{0};
  std::atomic<uint64_t> put_errors_{0}, watch_errors_{0}, event_errors_{0};
};

// The one JSON line both tools print for --op watch.
void print_watch_json(const BenchFlags& flags, const WatchResult& result, const WatchCosts& costs);

}  // namespace castor::tools
