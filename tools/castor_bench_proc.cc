#include "tools/castor_bench_proc.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace castor::tools {

long long process_ticks(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses; the fields after its closing
  // parenthesis are plain.
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

long long rss_bytes(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmRSS: N kB"
  }
  return -1;
}

ProcSample sample_processes(const std::vector<int>& pids) {
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcSample s;
  for (int pid : pids) {
    const long long ticks = process_ticks(pid);
    const long long rss = rss_bytes(pid);
    s.ok = s.ok && ticks >= 0 && rss >= 0;
    s.cpu_seconds += static_cast<double>(ticks) / hz;
    s.rss_bytes += rss;
  }
  return s;
}

ProcSample sample_self() { return sample_processes({static_cast<int>(getpid())}); }

}  // namespace castor::tools
