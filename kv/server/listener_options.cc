#include "kv/server/listener_options.h"

namespace castor::kv {

net::HttpServerOptions http_server_options(const ServerOptions& options) {
  net::HttpServerOptions http;
  // The request limit (1.5 MiB) holds a value at its limit (1 MiB) as a raw PUT body, or
  // base64 inside a txn's JSON (1.33 MiB plus the JSON around it).
  http.body_bytes_max = options.limits.request_bytes_max;
  return http;
}

net::PeerTransportOptions peer_transport_options(const ServerOptions& options, uint64_t id,
                                                 const std::optional<net::Endpoint>& http_bound) {
  net::PeerTransportOptions peers;
  peers.node_id = id;
  peers.node_name = options.name;
  peers.cluster_id = options.cluster_id;
  peers.frame_bytes_max = options.frame_bytes_max;
  if (http_bound) {
    // A wildcard bind is advertised under the peer address's host, which the other members
    // can reach.
    net::Endpoint advertised = *http_bound;
    if (advertised.host == "0.0.0.0" || advertised.host == "::") advertised.host = options.listen_peer.host;
    peers.http_address = advertised.to_string();
  }
  return peers;
}

net::ClientListenerOptions client_listener_options(const ServerOptions& options, uint64_t id) {
  net::ClientListenerOptions clients;
  clients.node_id = id;
  clients.node_name = options.name;
  clients.cluster_id = options.cluster_id;
  clients.frame_bytes_max = options.frame_bytes_max;
  clients.idle_timeout = options.client_idle_timeout;
  clients.connections_max = options.client_connections_max;
  clients.write_timeout = options.client_write_timeout;
  return clients;
}

}  // namespace castor::kv
