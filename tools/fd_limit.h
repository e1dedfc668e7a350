// castord's open-files limit (RLIMIT_NOFILE). Every connection the node accepts is a file
// descriptor, and its own limits allow thousands (kv::fds_needed). Many systems start a process
// with a soft limit of 1,024 (login shells, systemd services: kept low for programs that still
// use select()) under a hard limit far above it, up to which a process may raise its own soft
// limit. castord does at start, as Go programs do since Go 1.19 (etcd among them); it uses no
// select(). Past the limit the accept loops wait and count "out of file descriptors"
// (net/accept_error.h).
//
// What it does NOT do: raise the hard limit (only root or the service manager can; the
// warning says so) or close descriptors to make room.
#pragma once

#include <cstdint>
#include <string>

#include "raft/base/status.h"

namespace castor::tools {

// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the soft limit now in
// force, or kUnavailable naming the call the system refused.
Result<uint64_t> raise_fd_limit();

// The line castord logs when its limit of `limit` open files is below the `need` of its own
// limits, saying what to do; "" when the limit holds the need.
std::string fd_limit_warning(uint64_t limit, uint64_t need);

}  // namespace castor::tools
