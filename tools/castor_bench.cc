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
#include <unistd.h>

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
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kv/client/client.h"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using castor::kv::CasExpect;
using castor::kv::Client;
using castor::kv::ClientOptions;

struct Opts {
  std::vector<castor::net::Endpoint> endpoints;
  int clients = 1;
  int keys = 1000;
  int value_size = 256;
  double duration = 10.0;
  double warmup = 2.0;
  std::string op = "put";
  bool serializable = false;
  std::string prefix = "castorbench/";
  std::vector<int> cpu_pids;
  uint64_t seed = 0;
};

[[noreturn]] void usage(const std::string& msg) {
  if (!msg.empty()) std::fprintf(stderr, "castor-bench: %s\n", msg.c_str());
  std::fprintf(stderr,
               "usage: castor-bench --endpoints host:port[,host:port...] [--op put|cas|get]\n"
               "       [--clients C] [--keys K] [--value-size V] [--duration D] [--warmup W]\n"
               "       [--serializable] [--prefix P] [--cpu-pids pid,pid,...] [--seed S]\n"
               "Prints one JSON line: op, clients, ops, seconds, throughput_ops_s, p50_ms, p99_ms,\n"
               "p999_ms, max_ms, errors (and successes, conflicts for cas), plus CPU used.\n");
  std::exit(2);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Opts parse(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--endpoints") {
        for (const auto& e : split(val(), ',')) {
          auto ep = castor::net::parse_endpoint(e);
          if (!ep.is_ok()) usage(ep.status().message());
          o.endpoints.push_back(*ep);
        }
      } else if (a == "--clients") {
        o.clients = std::stoi(val());
      } else if (a == "--keys") {
        o.keys = std::stoi(val());
      } else if (a == "--value-size") {
        o.value_size = std::stoi(val());
      } else if (a == "--duration") {
        o.duration = std::stod(val());
      } else if (a == "--warmup") {
        o.warmup = std::stod(val());
      } else if (a == "--op") {
        o.op = val();
      } else if (a == "--serializable") {
        o.serializable = true;
      } else if (a == "--prefix") {
        o.prefix = val();
      } else if (a == "--cpu-pids") {
        for (const auto& p : split(val(), ',')) o.cpu_pids.push_back(std::stoi(p));
      } else if (a == "--seed") {
        o.seed = std::stoull(val());
      } else if (a == "-h" || a == "--help") {
        usage("");
      } else {
        usage("unknown flag " + a);
      }
    } catch (const std::exception&) {
      usage("bad value for " + a);
    }
  }
  if (o.endpoints.empty()) usage("--endpoints is required");
  if (o.op != "put" && o.op != "get" && o.op != "cas") usage("--op must be put, cas or get");
  if (o.clients < 1 || o.keys < 1 || o.duration <= 0 || o.warmup < 0) usage("bad numbers");
  return o;
}

// CPU time (user + system, in clock ticks) of a process, and of the whole host.
long long process_ticks(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int k = 3; k <= 15 && rest >> field; ++k) {
    if (k == 14) utime = std::stoll(field);
    if (k == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

long long self_ticks() { return process_ticks(getpid()); }

struct Stats {
  std::vector<int64_t> lat_ns;
  uint64_t errors = 0, successes = 0, conflicts = 0;
};

struct Run {
  Opts o;
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

double percentile_ms(std::vector<int64_t>& v, double q) {
  if (v.empty()) return 0;
  const size_t idx =
      std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1);
  return static_cast<double>(v[idx]) / 1e6;
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

// CPU ticks of the servers (--cpu-pids) and of castor-bench itself, at the start and the end
// of the measurement window.
struct CpuSample {
  std::vector<long long> servers_before, servers_after;
  long long self_before = 0, self_after = 0;

  void take(const std::vector<int>& pids, std::vector<long long>& servers, long long& self) {
    for (size_t i = 0; i < pids.size(); ++i) servers[i] = process_ticks(pids[i]);
    self = self_ticks();
  }
};

// The run's result as one JSON line (etcdbench's fields, plus CPU).
void print_json_line(Run& run, const CpuSample& cpu) {
  const Opts& o = run.o;
  std::vector<int64_t>& lat = run.stats.lat_ns;
  std::sort(lat.begin(), lat.end());
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::printf("{\"op\":\"%s\",\"clients\":%d,\"ops\":%zu,\"seconds\":%.2f,\"throughput_ops_s\":%.1f,",
              o.op.c_str(), o.clients, lat.size(), o.duration, static_cast<double>(lat.size()) / o.duration);
  std::printf("\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%" PRIu64,
              percentile_ms(lat, 0.50), percentile_ms(lat, 0.99), percentile_ms(lat, 0.999),
              lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e6, run.stats.errors);
  if (o.op == "cas") {
    std::printf(",\"successes\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"success_ops_s\":%.1f",
                run.stats.successes, run.stats.conflicts,
                static_cast<double>(run.stats.successes) / o.duration);
  }
  std::printf(",\"bench_cpu_cores\":%.2f",
              static_cast<double>(cpu.self_after - cpu.self_before) / hz / o.duration);
  if (!o.cpu_pids.empty()) {
    long long ticks = 0;
    bool all = true;
    for (size_t i = 0; i < cpu.servers_before.size(); ++i) {
      all = all && cpu.servers_before[i] >= 0 && cpu.servers_after[i] >= 0;
      ticks += cpu.servers_after[i] - cpu.servers_before[i];
    }
    if (all) std::printf(",\"server_cpu_cores\":%.2f", static_cast<double>(ticks) / hz / o.duration);
  }
  std::printf("}\n");
}

}  // namespace

int main(int argc, char** argv) {
  Run run;
  run.o = parse(argc, argv);
  const Opts& o = run.o;
  std::mt19937_64 seeder(o.seed ? o.seed : static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  run.value.resize(static_cast<size_t>(o.value_size));
  for (char& c : run.value) c = static_cast<char>('a' + seeder() % 26);
  for (int k = 0; k < o.keys; ++k) run.keys.push_back(o.prefix + std::to_string(k));
  run.last_rev.assign(run.keys.size(), 0);

  asio::io_context io;
  ClientOptions client_options;
  client_options.endpoints = o.endpoints;
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
  CpuSample cpu{std::vector<long long>(o.cpu_pids.size()), std::vector<long long>(o.cpu_pids.size())};
  asio::steady_timer at_begin(io, run.begin), at_end(io, run.end);
  at_begin.async_wait(
      [&](boost::system::error_code) { cpu.take(o.cpu_pids, cpu.servers_before, cpu.self_before); });
  at_end.async_wait(
      [&](boost::system::error_code) { cpu.take(o.cpu_pids, cpu.servers_after, cpu.self_after); });
  while (run.live > 0 || cpu.self_after == 0) io.run_one();
  print_json_line(run, cpu);
  return run.stats.errors == 0 ? 0 : 1;
}
