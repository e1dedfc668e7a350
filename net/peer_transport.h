// PeerTransport: carries Raft messages between cluster members over TCP.
//
// Each node keeps one outgoing connection per peer, used only for sending, and accepts the
// peers' outgoing connections for receiving. Outgoing: a bounded queue per peer (full means
// the message is dropped and counted, which Raft tolerates: it retries on its own), many frames
// per socket write, reconnect with capped exponential backoff and jitter. Incoming: the first
// frame must be a peer Hello of this cluster from a known member; then only Raft frames from
// that member are accepted. Anything else closes that connection with a rate-limited log line;
// the node keeps serving everyone else.
//
// What it does NOT do: interpret Raft messages or retry them.
// Threading: every method, and the callback, runs on the io_context's single thread.
// Destroy it only after its io_context has stopped running (its coroutines refer to it).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "net/endpoint.h"
#include "net/framed_socket.h"
#include "net/rate_limited_log.h"
#include "raft/raft.pb.h"

namespace castor::net {

struct PeerTransportOptions {
  uint64_t node_id = 0;
  std::string node_name;
  std::string cluster_id;
  uint32_t frame_bytes_max = kFrameBytesMaxDefault;
  size_t queue_messages_max = 4096;
  size_t write_bytes_max = 1 << 20;  // bytes gathered into one socket write
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds handshake_timeout{2000};
  std::string http_address;
};

struct PeerStats {
  bool connected = false;
  size_t queue_depth = 0;
  uint64_t sent = 0;
  uint64_t dropped = 0;
  std::optional<double> rtt_seconds;
  double last_rtt_seconds = 0;
  uint64_t reconnects = 0;
  uint64_t silence_closes = 0;
  std::string http_address;
};

class PeerTransport {
 public:
  using OnMessage = std::function<void(raft::pb::Message)>;

  PeerTransport(boost::asio::io_context& io, PeerTransportOptions options, OnMessage on_message);
  ~PeerTransport();

  void add_peer(uint64_t id, Endpoint endpoint);
  // Binds the peer port (port 0 picks a free one) and starts accepting and connecting.
  // kUnavailable names the address when it cannot be bound.
  Result<Endpoint> start(const Endpoint& listen);
  // Queues m for peer m.to(). Never blocks; drops when that peer's queue is full.
  void send(const raft::pb::Message& m);
  // Closes every connection; the coroutines end as the io_context runs on.
  void stop();

  PeerStats stats(uint64_t peer) const;
  // Connections refused or closed for bad input, by reason ("bad hello", "malformed frame", ...).
  const std::map<std::string, uint64_t>& rejected() const { return rejected_; }

 private:
  struct Peer {
    uint64_t id;
    Endpoint endpoint;
    std::deque<std::string> queue;  // encoded frames
    std::unique_ptr<boost::asio::steady_timer> wake;
    std::shared_ptr<FramedSocket> conn;
    PeerStats stats;
  };

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve_incoming(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> run_outgoing(Peer* peer);
  boost::asio::awaitable<Status> connect_and_greet(Peer* peer);
  boost::asio::awaitable<void> watch_outgoing(Peer* peer, std::shared_ptr<FramedSocket> conn);
  void reject(const std::string& reason, const std::string& detail);

  boost::asio::io_context& io_;
  PeerTransportOptions opt_;
  OnMessage on_message_;
  std::map<uint64_t, std::unique_ptr<Peer>> peers_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::map<FramedSocket*, std::shared_ptr<FramedSocket>> incoming_;
  std::map<std::string, uint64_t> rejected_;
  RateLimitedLog log_;
  std::mt19937_64 jitter_;
  bool stopped_ = false;
};

}  // namespace castor::net
