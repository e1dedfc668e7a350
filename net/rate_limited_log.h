// RateLimitedLog: logs a repeated warning (garbage on a port, a refused peer) at most once per
// interval per reason, with a count of what it held back, so that a flood of bad input cannot
// flood the log. Not thread-safe; one per strand.
//
// What it does NOT do: count for metrics (castor_rejected_total is kept beside it, by the
// listener that refused) or hold back errors that stop the node (those are logged at once).
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace castor::net {

class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}
  // Logs "what: detail" as a warning unless `what` was logged within the interval.
  void warn(const std::string& what, const std::string& detail);

 private:
  struct Slot {
    std::chrono::steady_clock::time_point last{};
    uint64_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::map<std::string, Slot> slots_;
};

}  // namespace castor::net
