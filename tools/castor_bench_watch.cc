#include "tools/castor_bench_watch.h"

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "kv/client/client.h"
#include "kv/client/watch.h"
#include "tools/castor_bench_proc.h"
#include "tools/castor_bench_watch_ledger.h"

namespace castor::tools {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// The watches one thread serves: its own io_context, as gRPC's callback threads serve
// etcd-watch-bench's streams. One thread could not read 1 M events/s, and its backlog, not the
// store, would set the latency.
struct Shard {
  asio::io_context io;
  std::vector<std::unique_ptr<kv::Watch>> watches;
  std::thread thread;
};

struct WatchRun {
  WatchRun(const BenchFlags& flags, const std::vector<net::Endpoint>& endpoints)
      : f(flags),
        endpoints(endpoints),
        // Room for every revision the schedule can make, twice over.
        ledger(flags.watchers,
               static_cast<uint64_t>(2 * flags.rate * (flags.warmup + flags.duration)) + 1000),
        value(static_cast<size_t>(flags.value_size), 'v') {}

  const BenchFlags& f;
  const std::vector<net::Endpoint>& endpoints;
  WatchLedger ledger;
  WatchCosts costs;
  const std::string value;
  std::vector<std::unique_ptr<Shard>> shards;
  // The shards' threads, the writer's and the main thread share these.
  std::atomic<int> watches_live{0};
  std::atomic<int> shards_started{0};  // shards whose watches all have their start revision
  std::atomic<int64_t> base{0};        // the highest of those start revisions
  std::atomic<bool> start_failed{false};
  std::atomic<bool> cancelling{false};
  std::atomic<int> puts_in_flight{0};
  std::atomic<bool> schedule_done{false};
};

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// Runs the io_context until `done`; false if `timeout` passed first.
bool run_until(asio::io_context& io, const std::function<bool()>& done, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Waits (on a thread with no io_context of its own) until `done`; false if `timeout` passed.
bool wait_until(const std::function<bool()>& done, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

asio::awaitable<void> follow(WatchRun& run, kv::Watch& watch, int w) {
  for (;;) {
    auto r = co_await watch.next();
    const auto at = Clock::now();
    if (!r.is_ok()) {
      std::fprintf(stderr, "castor-bench: watch %d failed: %s\n", w, r.status().to_string().c_str());
      run.ledger.watch_failed();
      break;
    }
    if (r->ended) break;
    for (const auto& e : r->events) run.ledger.received(w, static_cast<int64_t>(e.kv().mod_revision()), at);
  }
  --run.watches_live;
}

// One shard's thread: starts its watches, reports their start, serves them until they are
// cancelled (by the main thread's word, carried out here, where the watches live).
void serve_shard(WatchRun& run, Shard& shard) {
  const auto started = [&] {
    for (const auto& w : shard.watches) {
      if (!w->revision()) return false;
    }
    return true;
  };
  if (run_until(shard.io, started, kWatchStartTimeout)) {
    for (const auto& w : shard.watches) {
      int64_t seen = run.base.load();
      const auto mine = static_cast<int64_t>(*w->revision());
      while (mine > seen && !run.base.compare_exchange_weak(seen, mine)) {
      }
    }
    ++run.shards_started;
  } else {
    run.start_failed = true;
  }
  run_until(
      shard.io, [&] { return run.cancelling.load() || run.start_failed.load(); }, std::chrono::hours(1));
  for (auto& w : shard.watches) w->cancel();
  run_until(
      shard.io, [&] { return run.watches_live.load() == 0; }, std::chrono::seconds(30));
}

// Starts the watches, the i-th through endpoint i mod N first, on one thread per core; true
// once each has its start.
bool start_watches(WatchRun& run) {
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 0; t < threads; ++t) run.shards.push_back(std::make_unique<Shard>());
  for (int w = 0; w < run.f.watchers; ++w) {
    kv::ClientOptions client;
    const size_t n = run.endpoints.size();
    for (size_t i = 0; i < n; ++i)
      client.endpoints.push_back(run.endpoints[(static_cast<size_t>(w) + i) % n]);
    client.name = "castor-bench";
    kv::WatchOptions options;
    options.key = run.f.prefix;
    options.prefix = true;
    Shard& shard = *run.shards[static_cast<size_t>(w % threads)];
    shard.watches.push_back(std::make_unique<kv::Watch>(shard.io, client, options));
    ++run.watches_live;
    asio::co_spawn(shard.io, follow(run, *shard.watches.back(), w), asio::detached);
  }
  for (auto& shard : run.shards) shard->thread = std::thread(serve_shard, std::ref(run), std::ref(*shard));
  const auto all_started = [&] { return run.shards_started.load() == threads || run.start_failed.load(); };
  wait_until(all_started, kWatchStartTimeout + std::chrono::seconds(5));
  if (run.shards_started.load() != threads) return false;
  // No put has been made yet, so no event can reach the ledger before it knows where to start.
  run.ledger.start_after(run.base.load());
  return true;
}

// Cancels every watch and joins the shards' threads; false if a watch did not end.
bool stop_watches(WatchRun& run) {
  run.cancelling = true;
  for (auto& shard : run.shards) {
    if (shard->thread.joinable()) shard->thread.join();
  }
  return run.watches_live.load() == 0;
}

asio::awaitable<void> put_one(WatchRun& run, kv::Client& client, uint64_t n, bool measured) {
  ++run.puts_in_flight;
  auto r =
      co_await client.put(run.f.prefix + std::to_string(n % static_cast<uint64_t>(run.f.keys)), run.value);
  if (r.is_ok()) {
    run.ledger.acked(static_cast<int64_t>(r.header().revision()), measured, Clock::now());
  } else {
    run.ledger.put_failed();
  }
  --run.puts_in_flight;
}

// Puts on schedule from now: warm-up, then the measured window; samples the costs at its edges.
asio::awaitable<void> schedule(WatchRun& run, asio::io_context& io, kv::Client& client) {
  const auto start = Clock::now();
  const auto begin = start + seconds(run.f.warmup);
  const auto end = begin + seconds(run.f.duration);
  asio::steady_timer timer(io);
  bool sampled = false;
  for (uint64_t n = 0;; ++n) {
    const auto at = start + seconds(static_cast<double>(n) / run.f.rate);
    if (at >= end) break;
    if (!sampled && at >= begin) {
      timer.expires_at(begin);
      co_await timer.async_wait(asio::use_awaitable);
      run.costs.servers_begin = sample_processes(run.f.cpu_pids);
      run.costs.bench_begin = sample_self();
      sampled = true;
    }
    timer.expires_at(at);
    co_await timer.async_wait(asio::use_awaitable);
    if (run.puts_in_flight >= kPutsInFlightMax) {
      run.ledger.put_failed();
    } else {
      asio::co_spawn(io, put_one(run, client, n, at >= begin), asio::detached);
    }
  }
  timer.expires_at(end);
  co_await timer.async_wait(asio::use_awaitable);
  run.costs.servers_end = sample_processes(run.f.cpu_pids);
  run.costs.bench_end = sample_self();
  run.schedule_done = true;
}

}  // namespace

int run_watch(const BenchFlags& f, const std::vector<net::Endpoint>& endpoints) {
  WatchRun run(f, endpoints);
  run.costs.rss_before_watches = sample_processes(f.cpu_pids).rss_bytes;
  if (!start_watches(run)) {
    std::fprintf(stderr, "castor-bench: the watches did not all start within %lld s\n",
                 static_cast<long long>(kWatchStartTimeout.count()));
    std::_Exit(1);  // coroutines still refer to the run: leave without destroying it
  }
  run.costs.rss_watching = sample_processes(f.cpu_pids).rss_bytes;
  // The writer has an io_context and a thread of its own, so that a put's answer is read, and
  // its acknowledgement timed, when it comes, not after the watchers' backlog of events.
  asio::io_context writer_io;
  kv::ClientOptions options;
  options.endpoints = endpoints;
  options.name = "castor-bench";
  kv::Client client(writer_io, options);
  asio::co_spawn(writer_io, schedule(run, writer_io, client), asio::detached);
  const auto written = [&] { return run.schedule_done.load() && run.puts_in_flight.load() == 0; };
  const auto schedule_bound = seconds(f.warmup + f.duration + 60);
  std::thread writer([&] { run_until(writer_io, written, schedule_bound); });
  writer.join();
  wait_until([&] { return run.ledger.caught_up(); }, kWatchDrainTimeout);
  run.costs.rss_end = sample_processes(f.cpu_pids).rss_bytes;
  if (!stop_watches(run) || !written()) {
    std::fprintf(stderr, "castor-bench: the watches or the writer did not end\n");
    std::_Exit(1);  // coroutines still refer to the run: leave without destroying it
  }
  const WatchResult result = run.ledger.result();
  print_watch_json(f, result, run.costs);
  return result.errors() == 0 && result.events == result.expected_events && result.puts > 0 ? 0 : 1;
}

}  // namespace castor::tools
