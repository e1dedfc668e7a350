#include "tools/castor_bench_watch_ledger.h"

#include <cinttypes>
#include <cstdio>

namespace castor::tools {

WatchLedger::WatchLedger(int watchers, uint64_t revisions_max)
    : revisions_max_(revisions_max),
      watchers_(new Watcher[static_cast<size_t>(watchers)]),
      watcher_count_(watchers) {}

// Microseconds since the ledger began, plus one so that 0 can mean "never".
uint32_t WatchLedger::since_start_us(Clock::time_point at) const {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(at - start_).count() +
                               1);
}

void WatchLedger::acked(int64_t revision, bool measured, Clock::time_point at) {
  if (revision <= base_ || static_cast<uint64_t>(revision - base_) > revisions_max_) {
    put_errors_.fetch_add(1);
    return;
  }
  const auto i = static_cast<size_t>(revision - base_ - 1);
  std::lock_guard lock(acks_mu_);
  if (ack_us_.size() <= i) {
    ack_us_.resize(i + 1, 0);
    measured_.resize(i + 1, false);
  }
  ack_us_[i] = since_start_us(at);
  measured_[i] = measured;
  if (revision > last_acked_.load()) last_acked_.store(revision);
}

void WatchLedger::received(int watcher, int64_t revision, Clock::time_point at) {
  Watcher& w = watchers_[static_cast<size_t>(watcher)];
  // Each revision once, ascending: anything else is the store's error.
  if (revision <= w.last.load() || revision <= base_ ||
      static_cast<uint64_t>(revision - base_) > revisions_max_) {
    event_errors_.fetch_add(1);
    return;
  }
  const auto i = static_cast<size_t>(revision - base_ - 1);
  if (w.at_us.size() <= i) w.at_us.resize(i + 1, 0);
  w.at_us[i] = since_start_us(at);
  w.last.store(revision);
}

bool WatchLedger::caught_up() const {
  const int64_t acked = last_acked_.load();
  for (int i = 0; i < watcher_count_; ++i) {
    if (watchers_[static_cast<size_t>(i)].last.load() < acked) return false;
  }
  return true;
}

WatchResult WatchLedger::result() const {
  std::lock_guard lock(acks_mu_);
  WatchResult r;
  r.put_errors = put_errors_.load();
  r.watch_errors = watch_errors_.load();
  r.event_errors = event_errors_.load();
  std::vector<size_t> measured;
  for (size_t i = 0; i < ack_us_.size(); ++i) {
    if (ack_us_[i] != 0 && measured_[i]) measured.push_back(i);
  }
  r.puts = measured.size();
  r.expected_events = r.puts * static_cast<uint64_t>(watcher_count_);
  r.latency_us.reserve(r.expected_events);
  for (int w = 0; w < watcher_count_; ++w) {
    const std::vector<uint32_t>& at = watchers_[static_cast<size_t>(w)].at_us;
    for (size_t i : measured) {
      if (i >= at.size() || at[i] == 0) continue;
      ++r.events;
      if (at[i] < ack_us_[i]) ++r.early_events;
      r.latency_us.push_back(at[i] < ack_us_[i] ? 0 : at[i] - ack_us_[i]);
    }
  }
  std::sort(r.latency_us.begin(), r.latency_us.end());
  return r;
}

void print_watch_json(const BenchFlags& f, const WatchResult& r, const WatchCosts& c) {
  const auto ms = [&](double q) { return static_cast<double>(quantile(r.latency_us, q)) / 1e3; };
  std::printf("{\"op\":\"watch\",\"watchers\":%d,\"rate\":%.1f,\"value_size\":%d,\"seconds\":%.2f,",
              f.watchers, f.rate, f.value_size, f.duration);
  std::printf("\"puts\":%" PRIu64 ",\"events\":%" PRIu64 ",\"expected_events\":%" PRIu64
              ",\"missed_events\":%" PRIu64 ",",
              r.puts, r.events, r.expected_events, r.expected_events - r.events);
  std::printf("\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,", ms(0.50), ms(0.99),
              ms(0.999), ms(1.0));
  std::printf("\"early_events\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"put_errors\":%" PRIu64
              ",\"watch_errors\":%" PRIu64 ",\"event_errors\":%" PRIu64 ",",
              r.early_events, r.errors(), r.put_errors, r.watch_errors, r.event_errors);
  std::printf("\"bench_cpu_seconds\":%.3f", c.bench_end.cpu_seconds - c.bench_begin.cpu_seconds);
  if (c.servers_begin.ok && c.servers_end.ok && !f.cpu_pids.empty()) {
    std::printf(
        ",\"server_cpu_seconds\":%.3f,\"rss_bytes_start\":%lld,\"rss_bytes_watching\":%lld,"
        "\"rss_bytes_end\":%lld",
        c.servers_end.cpu_seconds - c.servers_begin.cpu_seconds, c.rss_before_watches, c.rss_watching,
        c.rss_end);
  }
  std::printf("}\n");
}

}  // namespace castor::tools
