#include "tools/castor_bench_flags.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace castor::tools {
namespace {

[[noreturn]] void usage(const char* program, const std::string& msg) {
  if (!msg.empty()) std::fprintf(stderr, "%s: %s\n", program, msg.c_str());
  std::fprintf(stderr,
               "usage: %s --endpoints host:port[,host:port...] [--op put|cas|get|watch]\n"
               "       [--clients C] [--keys K] [--value-size V] [--duration D] [--warmup W]\n"
               "       [--serializable] [--prefix P] [--cpu-pids pid,pid,...] [--seed S]\n"
               "       [--watchers N] [--rate PUTS_PER_S]\n"
               "Prints one JSON line. put/cas/get: op, clients, ops, seconds, throughput_ops_s,\n"
               "p50_ms, p99_ms, p999_ms, max_ms, errors (and successes, conflicts for cas), CPU.\n"
               "watch: op, watchers, rate, puts, events, expected_events, missed_events, seconds,\n"
               "p50_ms, p99_ms, p999_ms, max_ms (a put's acknowledgement to its event at a\n"
               "watcher), early_events, errors, CPU seconds and RSS bytes of --cpu-pids.\n",
               program);
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

using Setter = std::function<void(BenchFlags&, const std::string&)>;

// Every flag that takes a value, and what it sets; std::sto* throw on a bad number.
const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"--endpoints", [](BenchFlags& f, const std::string& v) { f.endpoints = split(v, ','); }},
      {"--op", [](BenchFlags& f, const std::string& v) { f.op = v; }},
      {"--clients", [](BenchFlags& f, const std::string& v) { f.clients = std::stoi(v); }},
      {"--keys", [](BenchFlags& f, const std::string& v) { f.keys = std::stoi(v); }},
      {"--value-size", [](BenchFlags& f, const std::string& v) { f.value_size = std::stoi(v); }},
      {"--duration", [](BenchFlags& f, const std::string& v) { f.duration = std::stod(v); }},
      {"--warmup", [](BenchFlags& f, const std::string& v) { f.warmup = std::stod(v); }},
      {"--prefix", [](BenchFlags& f, const std::string& v) { f.prefix = v; }},
      {"--cpu-pids",
       [](BenchFlags& f, const std::string& v) {
         for (const auto& p : split(v, ',')) f.cpu_pids.push_back(std::stoi(p));
       }},
      {"--seed", [](BenchFlags& f, const std::string& v) { f.seed = std::stoull(v); }},
      {"--watchers", [](BenchFlags& f, const std::string& v) { f.watchers = std::stoi(v); }},
      {"--rate", [](BenchFlags& f, const std::string& v) { f.rate = std::stod(v); }},
  };
  return table;
}

}  // namespace

BenchFlags parse_bench_flags(int argc, char** argv, const char* program) {
  BenchFlags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(program, "");
    if (a == "--serializable") {
      f.serializable = true;
      continue;
    }
    const auto it = setters().find(a);
    if (it == setters().end()) usage(program, "unknown flag " + a);
    if (i + 1 >= argc) usage(program, a + " needs a value");
    try {
      it->second(f, argv[++i]);
    } catch (const std::exception&) {
      usage(program, "bad value for " + a);
    }
  }
  if (f.endpoints.empty()) usage(program, "--endpoints is required");
  if (f.clients < 1 || f.keys < 1 || f.value_size < 0 || f.duration <= 0 || f.warmup < 0 || f.watchers < 1 ||
      f.rate <= 0) {
    usage(program, "bad numbers");
  }
  return f;
}

}  // namespace castor::tools
