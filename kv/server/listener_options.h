// The options of a node's three listeners (peers, clients, HTTP), made from its ServerOptions.
//
// What it does NOT do: open anything (kv::Server::run starts the listeners with these).
#pragma once

#include <cstdint>
#include <optional>

#include "kv/server/server.h"
#include "net/client_listener.h"
#include "net/http_server.h"
#include "net/peer_transport.h"

namespace castor::kv {

net::HttpServerOptions http_server_options(const ServerOptions& options);

// `id`: this node's member number. `http_bound`: where its HTTP server listens, if it does;
// peers learn it from the Hello and redirect HTTP writes there.
net::PeerTransportOptions peer_transport_options(const ServerOptions& options, uint64_t id,
                                                 const std::optional<net::Endpoint>& http_bound);

net::ClientListenerOptions client_listener_options(const ServerOptions& options, uint64_t id);

}  // namespace castor::kv
