#include "raft/base/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace castor::net {
namespace {

TEST(Metrics, RendersCountersGaugesHistogramsAndCallbacksInTheExpositionFormat) {
  Metrics m;
  Counter& gets = m.counter("castor_requests_total", "Requests served, by operation.", {{"op", "get"}});
  m.counter("castor_requests_total", "Requests served, by operation.", {{"op", "put"}}).inc(2);
  gets.inc();
  gets.inc(2);
  m.gauge("castor_send_queue_depth", "Messages queued per peer.", {{"peer", "n2"}}).set(7);
  m.gauge("castor_send_queue_depth", "Messages queued per peer.", {{"peer", "n3"}}).add(-1.5);
  Histogram& put =
      m.histogram("castor_request_duration_seconds", "Request latency.", {0.25, 0.5, 1}, {{"op", "put"}});
  for (double v : {0.125, 0.25, 0.5, 4.0}) put.observe(v);
  m.histogram("castor_fsync_duration_seconds", "Log fsync time.", {0.001}).observe(0.0005);
  uint64_t term = 3;
  m.gauge_callback("castor_term", "The current Raft term.", {}, [&] { return static_cast<double>(term); });
  m.counter_callback("castor_leader_changes_total", "Leader changes seen.", {{"node", "n1"}},
                     [] { return 5.0; });
  term = 4;

  EXPECT_EQ(m.render(),
            "# HELP castor_requests_total Requests served, by operation.\n"
            "# TYPE castor_requests_total counter\n"
            "castor_requests_total{op=\"get\"} 3\n"
            "castor_requests_total{op=\"put\"} 2\n"
            "# HELP castor_send_queue_depth Messages queued per peer.\n"
            "# TYPE castor_send_queue_depth gauge\n"
            "castor_send_queue_depth{peer=\"n2\"} 7\n"
            "castor_send_queue_depth{peer=\"n3\"} -1.5\n"
            "# HELP castor_request_duration_seconds Request latency.\n"
            "# TYPE castor_request_duration_seconds histogram\n"
            "castor_request_duration_seconds_bucket{op=\"put\",le=\"0.25\"} 2\n"
            "castor_request_duration_seconds_bucket{op=\"put\",le=\"0.5\"} 3\n"
            "castor_request_duration_seconds_bucket{op=\"put\",le=\"1\"} 3\n"
            "castor_request_duration_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
            "castor_request_duration_seconds_sum{op=\"put\"} 4.875\n"
            "castor_request_duration_seconds_count{op=\"put\"} 4\n"
            "# HELP castor_fsync_duration_seconds Log fsync time.\n"
            "# TYPE castor_fsync_duration_seconds histogram\n"
            "castor_fsync_duration_seconds_bucket{le=\"0.001\"} 1\n"
            "castor_fsync_duration_seconds_bucket{le=\"+Inf\"} 1\n"
            "castor_fsync_duration_seconds_sum 0.0005\n"
            "castor_fsync_duration_seconds_count 1\n"
            "# HELP castor_term The current Raft term.\n"
            "# TYPE castor_term gauge\n"
            "castor_term 4\n"
            "# HELP castor_leader_changes_total Leader changes seen.\n"
            "# TYPE castor_leader_changes_total counter\n"
            "castor_leader_changes_total{node=\"n1\"} 5\n");
}

TEST(Metrics, EscapesLabelValuesAndHelpText) {
  Metrics m;
  m.counter("castor_rejected_total", "Rejected input.\nBy reason, with \\ and \"quotes\".",
            {{"reason", "bad \"frame\"\nfrom C:\\peer"}})
      .inc();
  EXPECT_EQ(m.render(),
            "# HELP castor_rejected_total Rejected input.\\nBy reason, with \\\\ and \"quotes\".\n"
            "# TYPE castor_rejected_total counter\n"
            "castor_rejected_total{reason=\"bad \\\"frame\\\"\\nfrom C:\\\\peer\"} 1\n");
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_help("a\"b"), "a\"b");  // quotes stay as they are in HELP
}

TEST(Metrics, SpecialGaugeValuesUsePrometheusSpelling) {
  Metrics m;
  m.gauge("g", "h", {{"v", "nan"}}).set(std::nan(""));
  m.gauge("g", "h", {{"v", "inf"}}).set(std::numeric_limits<double>::infinity());
  m.gauge("g", "h", {{"v", "-inf"}}).set(-std::numeric_limits<double>::infinity());
  m.gauge("g", "h", {{"v", "big"}}).set(1e21);
  m.gauge("g", "h", {{"v", "small"}}).set(0.000125);
  m.gauge("g", "h", {{"v", "index"}}).set(1000000);
  EXPECT_EQ(
      m.render(),
      "# HELP g h\n# TYPE g gauge\n"
      "g{v=\"nan\"} NaN\ng{v=\"inf\"} +Inf\ng{v=\"-inf\"} -Inf\ng{v=\"big\"} 1e+21\ng{v=\"small\"} 0.000125\n"
      "g{v=\"index\"} 1000000\n");
}

TEST(Metrics, RegisteringTheSameSeriesAgainReturnsTheSameObject) {
  Metrics m;
  Counter& a = m.counter("castor_x_total", "X.", {{"peer", "n2"}});
  Counter& b = m.counter("castor_x_total", "X.", {{"peer", "n2"}});
  Counter& c = m.counter("castor_x_total", "X.", {{"peer", "n3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Histogram& h1 = m.histogram("castor_h_seconds", "H.", {1, 2});
  Histogram& h2 = m.histogram("castor_h_seconds", "H.", {1, 2});
  EXPECT_EQ(&h1, &h2);
  int calls = 0;
  m.gauge_callback("castor_g", "G.", {}, [&] { return double(++calls); });
  m.gauge_callback("castor_g", "G.", {}, [] { return 9.0; });  // replaces the first
  EXPECT_NE(m.render().find("castor_g 9\n"), std::string::npos);
  EXPECT_EQ(calls, 0);
}

TEST(Metrics, ValidatesMetricAndLabelNames) {
  EXPECT_EQ(metric_name_error("castor_fsync_duration_seconds"), "");
  EXPECT_EQ(metric_name_error("castor:rule:rate5m"), "");
  EXPECT_EQ(metric_name_error("_private"), "");
  EXPECT_NE(metric_name_error(""), "");
  EXPECT_NE(metric_name_error("1castor"), "");
  EXPECT_NE(metric_name_error("castor-requests"), "");
  EXPECT_NE(metric_name_error("castor requests"), "");
  EXPECT_NE(metric_name_error("castor_\xC3\xA9"), "");

  EXPECT_EQ(label_name_error("peer"), "");
  EXPECT_EQ(label_name_error("_op2"), "");
  EXPECT_NE(label_name_error(""), "");
  EXPECT_NE(label_name_error("__name__"), "");
  EXPECT_NE(label_name_error("a:b"), "");
  EXPECT_NE(label_name_error("9lives"), "");
}

TEST(Histogram, QuantilesInterpolateInsideBucketsLikePrometheus) {
  Histogram h({1, 2, 4, 8});
  EXPECT_FALSE(h.quantile(0.5).has_value());
  for (int i = 0; i < 50; ++i) h.observe(1);  // le=1
  for (int i = 0; i < 50; ++i) h.observe(3);  // le=4
  EXPECT_DOUBLE_EQ(*h.quantile(0.5), 1.0);
  EXPECT_DOUBLE_EQ(*h.quantile(0.75), 3.0);
  EXPECT_DOUBLE_EQ(*h.quantile(0.99), 3.96);
  EXPECT_FALSE(h.quantile(1.5).has_value());
  EXPECT_FALSE(h.quantile(std::nan("")).has_value());

  Histogram over({1, 2});
  over.observe(100);
  EXPECT_DOUBLE_EQ(*over.quantile(0.5), 2.0);  // in +Inf: the highest finite bound

  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{50, 50, 100, 100, 100}));
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.sum, 200.0);
}

TEST(Histogram, BucketBoundsAreInclusiveAndNanIsIgnored) {
  Histogram h({1, 2});
  h.observe(1);    // le="1"
  h.observe(1.5);  // le="2"
  h.observe(2);    // le="2"
  h.observe(-5);   // le="1"
  h.observe(std::nan(""));
  EXPECT_EQ(h.snapshot().cumulative, (std::vector<uint64_t>{2, 4, 4}));
  EXPECT_EQ(Histogram::exponential_buckets(0.25, 2, 4), (std::vector<double>{0.25, 0.5, 1, 2}));
  const auto lat = Histogram::latency_buckets_seconds();
  EXPECT_DOUBLE_EQ(lat.front(), 0.00005);
  EXPECT_GT(lat.back(), 10.0);
}

// Four threads update one counter, gauge and histogram while the main thread renders; nothing
// is lost. Short, because CI runs it under TSan too.
TEST(Metrics, ConcurrentUpdatesFromFourThreadsSumExactly) {
  Metrics m;
  Counter& c = m.counter("castor_c_total", "C.");
  Gauge& g = m.gauge("castor_g", "G.");
  Histogram& h = m.histogram("castor_h_seconds", "H.", {0.5, 1.5, 2.5});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        g.add(1);
        h.observe(static_cast<double>(t % 3));  // 0, 1 or 2: exact in a double sum
        if (i % 1000 == 0) m.counter("castor_lookups_total", "L.", {{"thread", std::to_string(t)}}).inc();
      }
    });
  }
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(m.render().empty());
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(g.value(), double{kThreads * kPerThread});
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads * kPerThread});
  // Threads 0 and 3 observe 0, thread 1 observes 1, thread 2 observes 2.
  EXPECT_EQ(s.cumulative,
            (std::vector<uint64_t>{2 * kPerThread, 3 * kPerThread, 4 * kPerThread, 4 * kPerThread}));
  EXPECT_EQ(s.sum, double{3 * kPerThread});
  EXPECT_NE(m.render().find("castor_h_seconds_count 20000\n"), std::string::npos);
}

}  // namespace
}  // namespace castor::net
