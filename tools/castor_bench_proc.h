// What the load generators read about the servers they load (--cpu-pids) and about themselves:
// CPU time and resident memory from /proc, so that a cluster's cost is measured the same way for
// Castor and for etcd.
//
// What it does NOT do: follow threads or children separately (/proc/PID/stat already sums a
// process's threads), or fail: a process that is gone reads as -1 and makes `ok` false.
// Threading: plain functions, no state.
#pragma once

#include <vector>

namespace castor::tools {

// User + system CPU of a process in clock ticks (sysconf(_SC_CLK_TCK) per second); -1 if gone.
long long process_ticks(int pid);
// Resident set size of a process in bytes (VmRSS); -1 if gone.
long long rss_bytes(int pid);

// The CPU time and RSS of a set of processes at one moment, summed.
struct ProcSample {
  double cpu_seconds = 0;
  long long rss_bytes = 0;
  bool ok = true;  // every process was there
};
ProcSample sample_processes(const std::vector<int>& pids);
// This process.
ProcSample sample_self();

}  // namespace castor::tools
