// handle_accept_error: what the node's accept loops (client, peer and HTTP ports) do when an
// accept fails.
//
// Out of file descriptors (EMFILE for the process, ENFILE for the system) or of kernel memory
// (ENOBUFS, ENOMEM), an accept fails again at once for as long as the shortage lasts: a loop that
// retried at once would spin at full CPU on the node's io thread, starving everything else on it,
// and never take a connection. So it waits kAcceptPauseWhenExhausted first; the kernel keeps the
// connection in the listen backlog meanwhile and hands it over once a descriptor is free. Each
// such failure is counted under kOutOfFileDescriptors (castor_rejected_total) and logged at a
// limited rate. Any other error concerns only the connection being accepted, which is gone: it is
// logged, and the loop accepts the next one at once.
//
// What it does NOT do: accept (the loop does, again, once this returns), close connections to free
// descriptors, or raise the open-files limit (tools/fd_limit.h does, at start).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "net/rate_limited_log.h"

namespace castor::net {

inline constexpr std::chrono::milliseconds kAcceptPauseWhenExhausted{100};
inline constexpr char kOutOfFileDescriptors[] = "out of file descriptors";

// Whether `ec` says the process or the system is out of descriptors or socket memory.
bool out_of_file_descriptors(const boost::system::error_code& ec);

// Handles a failed accept on `port` ("client port", "peer port", "http port"), counting in
// `rejected` and logging to `log` (the listener's own); returns when the loop may accept again.
boost::asio::awaitable<void> handle_accept_error(boost::system::error_code ec, std::string port,
                                                 std::map<std::string, uint64_t>& rejected,
                                                 RateLimitedLog& log);

}  // namespace castor::net
