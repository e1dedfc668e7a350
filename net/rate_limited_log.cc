#include "net/rate_limited_log.h"

#include <spdlog/spdlog.h>

namespace castor::net {

void RateLimitedLog::warn(const std::string& what, const std::string& detail) {
  Slot& s = slots_[what];
  const auto now = std::chrono::steady_clock::now();
  if (s.last != std::chrono::steady_clock::time_point{} && now - s.last < interval_) {
    ++s.suppressed;
    return;
  }
  if (s.suppressed > 0) {
    spdlog::warn("{}: {} ({} more like it suppressed)", what, detail, s.suppressed);
  } else {
    spdlog::warn("{}: {}", what, detail);
  }
  s.last = now;
  s.suppressed = 0;
}

}  // namespace castor::net
