#include "tools/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace castor::tools {

Result<uint64_t> raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return Status(Code::kUnavailable, std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (lim.rlim_cur != lim.rlim_max) {
    const rlim_t was = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return Status(Code::kUnavailable, "setrlimit(RLIMIT_NOFILE) from " + std::to_string(was) + " to " +
                                            std::to_string(lim.rlim_max) + ": " + std::strerror(errno));
    }
  }
  return uint64_t{lim.rlim_cur};
}

std::string fd_limit_warning(uint64_t limit, uint64_t need) {
  if (limit >= need) return "";
  const std::string n = std::to_string(need);
  return "the open-files limit (RLIMIT_NOFILE) is " + std::to_string(limit) +
         " even at its hard limit, below the " + n +
         " that this node's connection limits may need: past it new connections wait and are counted as "
         "rejected \"out of file descriptors\"; raise it (`ulimit -n " +
         n + "` before starting castord, or LimitNOFILE=" + n + " in its systemd unit; docs/RUNBOOK.md)";
}

}  // namespace castor::tools
