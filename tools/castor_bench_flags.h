// The command line shared by the load generators that measure Castor beside etcd: castor-bench
// and etcd-watch-bench take the same flags, so that bench-compare runs both with one argument
// list. Endpoints stay text here (host:port); each tool resolves them its own way.
//
// What it does NOT do: check that an op is one the calling tool implements (each tool does),
// or resolve anything. A bad flag prints the usage on stderr and exits 2.
// Threading: plain functions, no state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace castor::tools {

struct BenchFlags {
  std::vector<std::string> endpoints;  // host:port, in the order given
  std::string op = "put";
  int clients = 1;
  int keys = 1000;
  int value_size = 256;
  double duration = 10.0;  // seconds measured, after the warm-up
  double warmup = 2.0;     // seconds run but not measured
  bool serializable = false;
  std::string prefix = "castorbench/";
  std::vector<int> cpu_pids;  // the servers whose CPU time and memory are reported
  uint64_t seed = 0;          // 0: from the clock
  // --op watch: watches on `prefix`, and the puts under it per second (open loop).
  int watchers = 1000;
  double rate = 1000.0;
};

// Parses argv; `program` names the tool in messages.
BenchFlags parse_bench_flags(int argc, char** argv, const char* program);

}  // namespace castor::tools
