// castor-bench: a closed-loop load generator for Castor, the twin of etcd's benchmark anchor
// etcdbench: the same flags, the same workload, the same JSON line,
// so that the two stores are measured alike.
//
// C workers each keep exactly one request in flight: when an answer arrives the worker issues
// its next request on a random key out of K. Workers are coroutines on one io_context thread,
// spread over ceil(C / 64) kv::Client instances, each pipelining its workers' requests over one
// connection per node (64 keeps a client's writes inside its session window).
//
//   put  Put(key, value)
//   get  Get(key), linearizable unless --serializable
//   cas  Txn{ mod_revision(key) == last seen ? Put(key, value) : Get(key) }; "last seen" is
//        updated from a successful swap's revision or from the failure branch's answer, so a
//        conflict costs one round trip, as in etcdbench.
//
// Only requests that complete inside [start + warmup, start + warmup + duration] count.
//
//   watch  watchers on a prefix while puts are written on a schedule: tools/castor_bench_watch.h.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kv/client/client.h"
#include "tools/castor_bench_flags.h"
#include "tools/castor_bench_proc.h"
#include "tools/castor_bench_watch.h"
#include "tools/castor_bench_watch_ledger.h"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using castor::kv::CasExpect;
using castor::kv::Client;
using castor::kv::ClientOptions;
using castor::tools::BenchFlags;

// The flags' endpoints, resolved; a bad one ends the program as a bad flag does.
std::vector<castor::net::Endpoint> resolve(const BenchFlags& f) {
  std::vector<castor::net::Endpoint> out;
  for (const auto& e : f.endpoints) {
    auto ep = castor::net::parse_endpoint(e);
    if (!ep.is_ok()) {
      std::fprintf(stderr, "castor-bench: %s\n", ep.status().message().c_str());
      std::exit(2);
    }
    out.push_back(*ep);
  }
  return out;
}

struct Stats {
  std::vector<int64_t> lat_ns;
  uint64_t errors = 0, successes = 0, conflicts = 0;
};

struct Run {
  BenchFlags o;
  std::string value;
  std::vector<std::string> keys;
  std::vector<uint64_t> last_rev;
  Clock::time_point begin, end;
  Stats stats;
  int live = 0;
};

asio::awaitable<void> worker(Run& run, Client& client, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 >= run.end) break;
    const size_t k = rng() % run.keys.size();
    bool ok = false, conflict = false;
    if (run.o.op == "put") {
      auto r = co_await client.put(run.keys[k], run.value);
      ok = r.is_ok();
    } else if (run.o.op == "get") {
      auto r = co_await client.get(run.keys[k], {.serializable = run.o.serializable});
      ok = r.is_ok();
    } else {
      auto r = co_await client.cas(run.keys[k], run.value, CasExpect::mod_revision(run.last_rev[k]));
      if (r.is_ok()) {
        ok = true;
        run.last_rev[k] = r.header().revision();
      } else if (r.status().code() == castor::Code::kFailedPrecondition && r.has_value()) {
        ok = conflict = true;
        const auto& resp = r.value().responses();
        if (!resp.empty() && resp[0].has_get()) run.last_rev[k] = resp[0].get().kv().mod_revision();
      }
    }
    const auto t1 = Clock::now();
    if (t0 >= run.begin && t1 <= run.end) {
      if (!ok) {
        ++run.stats.errors;
      } else {
        run.stats.lat_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        if (run.o.op == "cas") (conflict ? run.stats.conflicts : run.stats.successes)++;
      }
    }
  }
  --run.live;
}

asio::awaitable<void> preload(Run& run, Client& client, size_t from, size_t step, int& failures,
                              int& lanes_left) {
  for (size_t k = from; k < run.keys.size(); k += step) {
    auto r = co_await client.put(run.keys[k], run.value);
    if (r.is_ok()) {
      run.last_rev[k] = r.header().revision();
    } else {
      ++failures;
    }
  }
  --lanes_left;
}

double percentile_ms(const std::vector<int64_t>& sorted, double q) {
  return static_cast<double>(castor::tools::quantile(sorted, q)) / 1e6;
}

// Puts every key once, 64 at a time. False (having said so) when a put failed.
bool preload_keys(asio::io_context& io, Run& run, const std::vector<std::unique_ptr<Client>>& clients) {
  const size_t lanes = 64;
  int failures = 0;
  int lanes_left = static_cast<int>(lanes);
  for (size_t l = 0; l < lanes; ++l) {
    asio::co_spawn(io, preload(run, *clients[l % clients.size()], l, lanes, failures, lanes_left),
                   asio::detached);
  }
  // The clients keep their connections open, so the loop never runs out of work: run it until
  // the coroutines are done instead.
  while (lanes_left > 0) io.run_one();
  if (failures > 0) {
    std::fprintf(stderr, "castor-bench: %d preload puts failed; is the cluster up?\n", failures);
    return false;
  }
  return true;
}

// The servers (--cpu-pids) and castor-bench itself at the start and the end of the
// measurement window.
struct CpuSample {
  castor::tools::ProcSample servers_before, servers_after, self_before, self_after;
  bool ended = false;

  void take(const std::vector<int>& pids, castor::tools::ProcSample& servers,
            castor::tools::ProcSample& self) {
    servers = castor::tools::sample_processes(pids);
    self = castor::tools::sample_self();
  }
};

// The run's result as one JSON line (etcdbench's fields, plus CPU).
void print_json_line(Run& run, const CpuSample& cpu) {
  const BenchFlags& o = run.o;
  std::vector<int64_t>& lat = run.stats.lat_ns;
  std::sort(lat.begin(), lat.end());
  std::printf("{\"op\":\"%s\",\"clients\":%d,\"ops\":%zu,\"seconds\":%.2f,\"throughput_ops_s\":%.1f,",
              o.op.c_str(), o.clients, lat.size(), o.duration, static_cast<double>(lat.size()) / o.duration);
  std::printf("\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%" PRIu64,
              percentile_ms(lat, 0.50), percentile_ms(lat, 0.99), percentile_ms(lat, 0.999),
              percentile_ms(lat, 1.0), run.stats.errors);
  if (o.op == "cas") {
    std::printf(",\"successes\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"success_ops_s\":%.1f",
                run.stats.successes, run.stats.conflicts,
                static_cast<double>(run.stats.successes) / o.duration);
  }
  std::printf(",\"bench_cpu_cores\":%.2f",
              (cpu.self_after.cpu_seconds - cpu.self_before.cpu_seconds) / o.duration);
  if (!o.cpu_pids.empty() && cpu.servers_before.ok && cpu.servers_after.ok) {
    std::printf(",\"server_cpu_cores\":%.2f",
                (cpu.servers_after.cpu_seconds - cpu.servers_before.cpu_seconds) / o.duration);
  }
  std::printf("}\n");
}

// put, cas or get from C closed-loop workers.
int run_requests(Run& run, const std::vector<castor::net::Endpoint>& endpoints) {
  const BenchFlags& o = run.o;
  std::mt19937_64 seeder(o.seed ? o.seed : static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  run.value.resize(static_cast<size_t>(o.value_size));
  for (char& c : run.value) c = static_cast<char>('a' + seeder() % 26);
  for (int k = 0; k < o.keys; ++k) run.keys.push_back(o.prefix + std::to_string(k));
  run.last_rev.assign(run.keys.size(), 0);

  asio::io_context io;
  ClientOptions client_options;
  client_options.endpoints = endpoints;
  client_options.name = "castor-bench";
  client_options.request_timeout = std::chrono::milliseconds(10000);
  // One client (session, connections) per 64 workers keeps every worker's write inside the
  // client's session window (kv/client/client_options.h).
  const int per_client = 64;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < (o.clients + per_client - 1) / per_client; ++i)
    clients.push_back(std::make_unique<Client>(io, client_options));

  // Preload every key: get and cas need them to exist, cas needs their mod revisions.
  if (o.op != "put" && !preload_keys(io, run, clients)) return 1;

  const auto start = Clock::now();
  run.begin = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  run.end =
      run.begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  run.live = o.clients;
  for (int i = 0; i < o.clients; ++i) {
    asio::co_spawn(io, worker(run, *clients[static_cast<size_t>(i / per_client)], seeder()), asio::detached);
  }
  // CPU is sampled over the measurement window only.
  CpuSample cpu;
  asio::steady_timer at_begin(io, run.begin), at_end(io, run.end);
  at_begin.async_wait(
      [&](boost::system::error_code) { cpu.take(o.cpu_pids, cpu.servers_before, cpu.self_before); });
  at_end.async_wait([&](boost::system::error_code) {
    cpu.take(o.cpu_pids, cpu.servers_after, cpu.self_after);
    cpu.ended = true;
  });
  while (run.live > 0 || !cpu.ended) io.run_one();
  print_json_line(run, cpu);
  return run.stats.errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  run.o = castor::tools::parse_bench_flags(argc, argv, "castor-bench");
  const auto endpoints = resolve(run.o);
  if (run.o.op == "watch") return castor::tools::run_watch(run.o, endpoints);
  if (run.o.op != "put" && run.o.op != "get" && run.o.op != "cas") {
    std::fprintf(stderr, "castor-bench: --op must be put, cas, get or watch\n");
    return 2;
  }
  return run_requests(run, endpoints);
}
