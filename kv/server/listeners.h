// Listeners: a node's three listening ports, started and stopped together.
//   - peers (net/peer_transport.h): Raft messages to and from the other members;
//   - clients (net/client_listener.h): the binary protocol, one ClientRequest per frame;
//   - HTTP (net/http_server.h, kv/server/http_api.h), when --listen-http is given.
// HTTP starts first, so that the Hellos to peers advertise the address it is bound to; peers
// learn each other's HTTP address from them, and HTTP writes to a follower redirect there.
//
// What it does NOT do: parse or answer client requests (the handlers do), check peer messages
// (the Raft core does), or decide whom to send to (each Raft message names its peer).
// Threading: every method and every handler on the node's io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kv/server/http_api.h"
#include "kv/server/pending.h"
#include "kv/server/server.h"
#include "kv/server/server_metrics.h"
#include "net/client_listener.h"
#include "net/http_server.h"
#include "net/peer_transport.h"

namespace castor::kv {

// Where the listeners hand what they receive.
struct ListenerHandlers {
  std::function<void(raft::pb::Message)> peer_message;
  // One frame from a client; `respond` sends one frame back.
  std::function<void(std::string payload, net::ClientListener::Respond respond)> client_frame;
  // One HTTP request, already a ClientRequest (kv/server/http_api.h); answered exactly once.
  std::function<void(pb::ClientRequest, Respond)> http_request;
  // GET /v1/watch/<key>, already a watch request; its answers stream on the HTTP answer.
  std::function<void(pb::ClientRequest, net::HttpServer::Respond)> http_watch;
  std::function<std::string()> metrics;        // GET /metrics
  std::function<pb::StatusResponse()> status;  // GET /status, /health
};

class Listeners {
 public:
  // `id`: this node's member number (its place in options.members, from 1).
  Listeners(boost::asio::io_context& io, const ServerOptions& options, uint64_t id,
            ListenerHandlers handlers);
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  // Binds and starts all three; an address in use (or any bind failure) is returned, and the
  // node must not run.
  Status start();
  // Closes every port and connection; nothing is received after.
  void stop();

  // Sends a Raft message to the peer it names (dropped while that peer is unreachable).
  void send(const raft::pb::Message& m) { transport_->send(m); }
  // The peer transport, for the node's status (links); null before start().
  const net::PeerTransport* transport() const { return transport_.get(); }
  // Where this node's HTTP server listens ("host:port"), "" without one.
  std::string http_address() const { return http_ ? http_bound_.to_string() : ""; }
  // Gives castor_rejected_total a series for every reason each listener refused input.
  void count_rejected(ServerMetrics& metrics) const;

 private:
  Status start_http();
  std::string http_address_of(uint64_t node) const;

  boost::asio::io_context& io_;
  const ServerOptions& opt_;
  const uint64_t id_;
  ListenerHandlers handlers_;
  HttpApiHooks http_hooks_;
  net::Endpoint http_bound_;
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<net::PeerTransport> transport_;
  std::unique_ptr<net::ClientListener> clients_;
};

}  // namespace castor::kv
