// Endpoint: a "host:port" address from flags and config, parsed once with a clear error.
//
// What it does NOT do: resolve names or check that anything listens there (open_acceptor and
// the connections do, when they use it).
#pragma once

#include <cstdint>
#include <string>

#include "raft/base/status.h"

namespace castor::net {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
  bool operator==(const Endpoint&) const = default;
};

// "127.0.0.1:2380", "localhost:2380" or "[::1]:2380". kInvalidArgument names what is wrong.
Result<Endpoint> parse_endpoint(const std::string& text);

}  // namespace castor::net
