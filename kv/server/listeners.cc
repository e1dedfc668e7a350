#include "kv/server/listeners.h"

#include <utility>

namespace castor::kv {

namespace {

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

}  // namespace

Listeners::Listeners(boost::asio::io_context& io, const ServerOptions& options, uint64_t id,
                     ListenerHandlers handlers)
    : io_(io), opt_(options), id_(id), handlers_(std::move(handlers)) {}

Status Listeners::start() {
  if (Status s = start_http(); !s.is_ok()) return s;
  const auto http_bound = http_ ? std::optional<net::Endpoint>(http_bound_) : std::nullopt;
  transport_ = std::make_unique<net::PeerTransport>(io_, peer_transport_options(opt_, id_, http_bound),
                                                    handlers_.peer_message);
  for (size_t i = 0; i < opt_.members.size(); ++i) {
    if (i + 1 != id_) transport_->add_peer(i + 1, opt_.members[i].second);
  }
  clients_ =
      std::make_unique<net::ClientListener>(io_, client_listener_options(opt_, id_), handlers_.client_frame);
  if (auto r = transport_->start(opt_.listen_peer); !r.is_ok()) return r.status();
  if (auto r = clients_->start(opt_.listen_client); !r.is_ok()) return r.status();
  return Status::ok();
}

Status Listeners::start_http() {
  if (!opt_.listen_http) return Status::ok();
  http_hooks_.submit = handlers_.http_request;
  http_hooks_.watch = handlers_.http_watch;
  http_hooks_.metrics = handlers_.metrics;
  http_hooks_.status = handlers_.status;
  http_hooks_.http_address_of = [this](uint64_t node) { return http_address_of(node); };
  http_ = std::make_unique<net::HttpServer>(
      io_, http_server_options(opt_), [this](net::HttpRequest request, net::HttpServer::Respond respond) {
        serve_http(http_hooks_, std::move(request), std::move(respond));
      });
  auto bound = http_->start(*opt_.listen_http);
  if (!bound.is_ok()) return bound.status();
  http_bound_ = *bound;
  return Status::ok();
}

void Listeners::stop() {
  if (transport_) transport_->stop();
  if (clients_) clients_->stop();
  if (http_) http_->stop();
}

std::string Listeners::http_address_of(uint64_t node) const {
  return node == id_ ? http_bound_.to_string() : transport_->stats(node).http_address;
}

void Listeners::count_rejected(ServerMetrics& metrics) const {
  if (transport_) metrics.count_rejected("peer", transport_->rejected());
  if (clients_) metrics.count_rejected("client", clients_->rejected());
  if (http_) metrics.count_rejected("http", http_->rejected());
}

}  // namespace castor::kv
