// open_acceptor: binds and listens on an address for one of the node's ports (peers, clients,
// HTTP), turning a taken or unresolvable address into a Status that names it.
//
// What it does NOT do: accept connections or limit them (the listeners do, with
// net/accept_error.h for a failed accept).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "net/endpoint.h"
#include "raft/base/status.h"

namespace castor::net {

// `what` completes "cannot listen for <what> on host:port": "peers", "clients", "HTTP".
// kUnavailable on failure. Port 0 picks a free port (read it from local_endpoint()).
Result<std::unique_ptr<boost::asio::ip::tcp::acceptor>> open_acceptor(boost::asio::io_context& io,
                                                                      const Endpoint& listen,
                                                                      const std::string& what);

}  // namespace castor::net
