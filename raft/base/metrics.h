// Metrics: counters, gauges and histograms, rendered in the Prometheus text exposition format
// (version 0.0.4) for `GET /metrics`.
//
//   Metrics m;
//   Counter& proposals = m.counter("castor_proposals_total", "Proposals by outcome.", {{"outcome",
//   "accepted"}}); Histogram& fsync = m.histogram("castor_fsync_duration_seconds", "LMDB log fsync time.",
//                                  Histogram::exponential_buckets(0.0001, 2, 16));
//   m.gauge_callback("castor_term", "Current Raft term.", {}, [&] { return double(term); });
//   proposals.inc();  fsync.observe(0.0021);  std::string text = m.render();
//
// A metric family is a name with one HELP text and one type; its series differ by label values
// (per peer, per operation, per reason). Families and series render in registration order,
// so the output is stable. Registering the same name and labels again returns the same
// object, so code may look a series up where it counts (e.g. a reject reason seen at runtime).
// Names are the caller's ("castor_" prefix included); an invalid name, a name reused with
// another type, help or label names, or bad histogram buckets is a bug (CASTOR_ASSERT).
//
// What it does NOT do: serve HTTP, expire series, or keep history: a scrape sees current values.
// Threading: Counter, Gauge and Histogram updates are lock-free (relaxed atomics) and safe
// from any thread: the log and apply threads observe durations while the io thread counts
// requests. Registration and render() take a mutex and may run on any thread; render() calls
// the value callbacks on its own thread, so a callback must only read what that thread may
// read (for kv::Server: render on the io thread) and must not call back into Metrics.
// Metric objects live as long as their Metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace castor {

// Label names and values of one series, in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up (requests, rejects, bytes).
class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A value that goes up and down (queue depth, bytes in the log).
class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Observations counted into fixed buckets. Bucket i counts observations v with
// bounds[i-1] < v <= bounds[i] (Prometheus' "le"); a last bucket counts those above every bound.
class Histogram {
 public:
  // `bounds` strictly increasing and finite; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);

  // A binary search and two relaxed atomic adds. NaN is ignored (it has no bucket).
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // cumulative[i]: observations <= bounds[i]; last: all (+Inf)
    uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  // The counts are read one by one while other threads may observe, so a snapshot can be a
  // few observations behind in some buckets; count is taken from the buckets themselves, so
  // the text is always self-consistent (_count equals the +Inf bucket).
  Snapshot snapshot() const;

  // Estimates the q-quantile (0 <= q <= 1) as Prometheus' histogram_quantile() does: linear
  // interpolation inside the bucket holding the rank, the lowest bucket starting at 0, and
  // the highest finite bound when the rank falls into +Inf. nullopt without observations.
  std::optional<double> quantile(double q) const;

  const std::vector<double>& bounds() const { return bounds_; }

  // `count` bounds: start, start*factor, start*factor^2, ...
  static std::vector<double> exponential_buckets(double start, double factor, size_t count);
  // Latency in seconds from 50 us to about 13 s, doubling: fine enough for p99 of fsync,
  // apply and request durations on a LAN, which sit between 100 us and 100 ms.
  static std::vector<double> latency_buckets_seconds() { return exponential_buckets(0.00005, 2, 19); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// "" when `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), otherwise why not.
std::string metric_name_error(std::string_view name);
// "" when `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
std::string label_name_error(std::string_view name);
// A label value or HELP text escaped for the exposition format.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

class Metrics {
 public:
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // Every series of one histogram family must use the same bounds.
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       const Labels& labels = {});
  // A series whose value is read at render time, so that state kept elsewhere (term, commit
  // index, queue depths) needs no pushing. Registering the same name and labels again
  // replaces the callback.
  void gauge_callback(const std::string& name, const std::string& help, const Labels& labels,
                      std::function<double()> value);
  void counter_callback(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> value);

  // The whole exposition text, every family with its HELP and TYPE lines.
  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series;
  struct Family;
  Family& family(const std::string& name, const std::string& help, Type type, const Labels& labels);
  Series& series(Family& f, const Labels& labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;  // registration order
  std::map<std::string, Family*, std::less<>> by_name_;
};

}  // namespace castor
