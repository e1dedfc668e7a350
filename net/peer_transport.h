// PeerTransport: carries Raft messages between cluster members over TCP.
//
// Each node keeps one outgoing connection per peer, used for sending, and accepts the peers'
// outgoing connections for receiving. Outgoing: a bounded queue per peer, filled only while
// the connection is up: a message for a peer that is not connected, or for a full queue, is
// dropped and counted, and a lost connection drops what was queued for it. Raft tolerates that
// (it retries on its own, thesis 3.3), and a backlog held for a dead peer would cost memory and
// be stale once delivered (appends of entries the leader has since compacted, votes of a past
// term). Many frames per socket write; reconnect with capped exponential backoff and jitter. Incoming: the
// first frame must be a peer Hello of this cluster from a known member; then only Raft and Ping frames from
// that member are accepted. Anything else closes that connection with a rate-limited log line;
// the node keeps serving everyone else.
//
// Keep-alive: the outgoing side sends a Ping every `ping_interval`; the incoming side answers
// each with a Pong on the same connection (its only writes after the Hello). The Pongs give the
// round-trip time per peer, and an outgoing connection that hears nothing for `silence_timeout`
// is closed and reconnected, as is an incoming one that receives nothing for that long. TCP
// alone would notice a dead link only after minutes, and after a partition heals a connection
// stuck in retransmission backoff delays the first packets by seconds (docs/CHAOS.md).
//
// What it does NOT do: interpret Raft messages or retry them.
// Threading: every method, and the callback, runs on the io_context's single thread.
// Destroy it only after its io_context has stopped running (its coroutines refer to it).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

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
#include <vector>

#include "net/endpoint.h"
#include "net/framed_socket.h"
#include "net/net.pb.h"
#include "net/rate_limited_log.h"
#include "raft/raft.pb.h"

namespace castor::net {

struct PeerTransportOptions {
  uint64_t node_id = 0;
  std::string node_name;
  std::string cluster_id;
  // "host:port" of this node's HTTP API, sent in its Hellos; empty when it has none.
  std::string http_address;
  uint32_t frame_bytes_max = kFrameBytesMaxDefault;
  size_t queue_messages_max = 4096;
  size_t write_bytes_max = 1 << 20;  // bytes gathered into one socket write
  // Reconnect backoff, doubling from min to max, plus up to half again of jitter. The cap is
  // short because a node that cannot reach a peer keeps trying: after a partition heals, the
  // link is used again within about connect_timeout + 1.5 * backoff_max (well under 1 s, an
  // election timeout), and an attempt costs one SYN.
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{250};
  // A TCP connect that has not completed by then is abandoned and retried after the backoff.
  // The kernel resends a lost SYN only after 1 s, then 2 s more, doubling, so a connect left to
  // run would hold a healed link idle that long; a fresh attempt sends a SYN at once. Must
  // exceed the network's round-trip time (loopback and LAN: well under 1 ms).
  std::chrono::milliseconds connect_timeout{250};
  // The Hello exchange, once TCP is up: how long either end waits for the other's Hello.
  std::chrono::milliseconds handshake_timeout{2000};
  // How often the outgoing side sends a Ping (its RTT sample rate).
  std::chrono::milliseconds ping_interval{100};
  // A connection on which nothing arrived for this long is closed (outgoing: no Pong; incoming:
  // no Ping or Raft message), and the outgoing side reconnects. It is also each peer socket's
  // TCP_USER_TIMEOUT, so the kernel gives up on data unacknowledged that long. Must be several
  // ping intervals, and every member must ping more often than the others' silence_timeout
  // (the same options everywhere). A Ping waits behind at most the write in progress (up to
  // write_bytes_max plus one frame), so a link must carry that well within it. A link that died
  // without a FIN goes unused this long, so keep it near the election timeout (castord: 1 s).
  std::chrono::milliseconds silence_timeout{1000};
};

// One peer as this node sees it. Outgoing means this node's connection to the peer.
struct PeerStats {
  bool connected = false;  // the outgoing connection is up (Hello exchanged)
  size_t queue_depth = 0;  // Raft messages waiting to be written
  uint64_t sent = 0;       // Raft messages written to the socket (Pings not counted)
  uint64_t dropped = 0;    // Raft messages dropped: the peer was not connected, or the queue full
  // Smoothed round-trip time (EWMA, 1/8 of each new sample, as TCP's SRTT) of Ping/Pong on the
  // current outgoing connection; nullopt while disconnected and until that connection's first
  // Pong, so a stale value from a dead connection is never shown.
  std::optional<double> rtt_seconds;
  double last_rtt_seconds = 0;  // the latest sample, kept across reconnects; 0 before any
  uint64_t reconnects = 0;      // outgoing connections established after the first one
  uint64_t silence_closes = 0;  // outgoing connections closed because no Pong came in time
  // The HTTP address from the peer's latest Hello (either direction); kept while disconnected,
  // empty until a Hello arrives or when the peer has no HTTP API.
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
  std::vector<uint64_t> peer_ids() const;
  // Connections refused or closed for bad input, by reason ("bad hello", "malformed frame", ...).
  const std::map<std::string, uint64_t>& rejected() const { return rejected_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct Peer {
    uint64_t id;
    Endpoint endpoint;
    std::deque<std::string> queue;  // encoded Raft frames
    std::unique_ptr<boost::asio::steady_timer> wake;
    std::shared_ptr<FramedSocket> conn;  // the outgoing connection, when up
    bool ever_connected = false;
    // Keep-alive state of `conn`. A Ping waits in `ping_due` rather than in `queue`: a full
    // queue must not drop it, or a busy but healthy link would look silent and be closed.
    // `pings` holds the nonces written and not yet answered, oldest first (Pongs come back
    // in order); it is bounded because the connection closes after silence_timeout.
    bool ping_due = false;
    uint64_t next_nonce = 1;
    std::deque<std::pair<uint64_t, Clock::time_point>> pings;
    Clock::time_point last_heard;
    PeerStats stats;
  };

  boost::asio::awaitable<void> accept_loop();
  Status check_incoming_hello(const Result<Frame>& first, pb::Hello& hello) const;
  boost::asio::awaitable<void> serve_incoming(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> watch_incoming(std::shared_ptr<FramedSocket> conn,
                                              std::shared_ptr<Clock::time_point> last_heard);
  boost::asio::awaitable<void> run_outgoing(Peer* peer);
  boost::asio::awaitable<Status> connect_and_greet(Peer* peer);
  boost::asio::awaitable<void> watch_outgoing(Peer* peer, std::shared_ptr<FramedSocket> conn);
  boost::asio::awaitable<void> keep_alive(Peer* peer, std::shared_ptr<FramedSocket> conn);
  void on_pong(Peer* peer, uint64_t nonce);
  std::string hello_frame() const;
  void set_user_timeout(boost::asio::ip::tcp::socket& sock);
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
