#include "net/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/accept_error.h"
#include "net/acceptor.h"
#include "net/hello.h"
#include "raft/base/assert.h"

namespace castor::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

PeerTransport::PeerTransport(asio::io_context& io, PeerTransportOptions options, OnMessage on_message)
    : io_(io), opt_(std::move(options)), on_message_(std::move(on_message)), jitter_(opt_.node_id) {
  // A silence_timeout of a few ping intervals would close healthy connections whenever one Pong
  // is a little late (a busy io thread, a large write ahead of the Ping).
  CASTOR_ASSERT(opt_.ping_interval.count() > 0, "ping_interval must be positive");
  CASTOR_ASSERT(opt_.silence_timeout >= 3 * opt_.ping_interval,
                "silence_timeout must be at least 3 ping intervals");
}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::add_peer(uint64_t id, Endpoint endpoint) {
  auto p = std::make_unique<Peer>();
  p->id = id;
  p->endpoint = std::move(endpoint);
  p->wake = std::make_unique<asio::steady_timer>(io_);
  peers_[id] = std::move(p);
}

Result<Endpoint> PeerTransport::start(const Endpoint& listen) {
  auto acceptor = open_acceptor(io_, listen, "peers");
  if (!acceptor.is_ok()) return acceptor.status();
  acceptor_ = std::move(*acceptor);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  for (auto& [id, p] : peers_) asio::co_spawn(io_, run_outgoing(p.get()), asio::detached);
  return Endpoint{listen.host, acceptor_->local_endpoint().port()};
}

void PeerTransport::send(const raft::pb::Message& m) {
  auto it = peers_.find(m.to());
  if (it == peers_.end() || stopped_) return;
  Peer& p = *it->second;
  if (!p.conn || p.queue.size() >= opt_.queue_messages_max) {
    ++p.stats.dropped;
    return;
  }
  std::string frame;
  append_frame(frame, FrameKind::kRaft, m.SerializeAsString());
  p.queue.push_back(std::move(frame));
  p.wake->cancel();
}

void PeerTransport::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  for (auto& [id, p] : peers_) {
    if (p->conn) p->conn->close();
    p->wake->cancel();
  }
  for (auto& [raw, conn] : incoming_) conn->close();
}

PeerStats PeerTransport::stats(uint64_t peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return {};
  PeerStats s = it->second->stats;
  s.queue_depth = it->second->queue.size();
  return s;
}

std::vector<uint64_t> PeerTransport::peer_ids() const {
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : peers_) ids.push_back(id);
  return ids;
}

std::string PeerTransport::hello_frame() const {
  std::string frame;
  append_frame(frame, FrameKind::kHello,
               make_hello(opt_.cluster_id, opt_.node_id, pb::Hello::PEER, opt_.node_name, opt_.http_address)
                   .SerializeAsString());
  return frame;
}

void PeerTransport::set_user_timeout(tcp::socket& sock) {
#ifdef TCP_USER_TIMEOUT
  // Data unacknowledged for silence_timeout means the link is gone: let the kernel fail the
  // socket then instead of after its default ~15 minutes of retransmissions. The silence checks
  // usually act first; this also covers an incoming connection's Pong writes. Best effort: a
  // kernel without it leaves the silence checks alone in charge.
  const unsigned int ms = static_cast<unsigned int>(opt_.silence_timeout.count());
  ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
#else
  (void)sock;
#endif
}

void PeerTransport::reject(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  log_.warn("peer port: " + reason, detail);
}

// ---------------------------------------------------------------------------------------------
// Incoming

asio::awaitable<void> PeerTransport::accept_loop() {
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket sock = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_) break;
      co_await handle_accept_error(ec, "peer port", rejected_, log_);
      continue;
    }
    asio::co_spawn(io_, serve_incoming(std::move(sock)), asio::detached);
  }
}

// Whether the first frame of an incoming connection is the Hello of a member of this cluster;
// parses it into hello.
Status PeerTransport::check_incoming_hello(const Result<Frame>& first, pb::Hello& hello) const {
  if (Status s = check_first_frame(first, opt_.cluster_id, pb::Hello::PEER, hello); !s.is_ok()) return s;
  if (!peers_.count(hello.node_id())) {
    return Status(Code::kInvalidArgument, "node id " + std::to_string(hello.node_id()) + " is not a member");
  }
  return Status::ok();
}

asio::awaitable<void> PeerTransport::serve_incoming(tcp::socket socket) {
  set_user_timeout(socket);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // Pongs must not wait for Nagle
  auto conn = std::make_shared<FramedSocket>(std::move(socket), opt_.frame_bytes_max);
  incoming_[conn.get()] = conn;
  const std::string remote = conn->remote();
  Result<Frame> first = co_await conn->read_frame_within(opt_.handshake_timeout);
  pb::Hello hello;
  if (Status why = check_incoming_hello(first, hello); !why.is_ok()) {
    reject("refused connection", remote + ": " + why.message());
  } else if ((co_await conn->write(hello_frame())).is_ok()) {
    peers_.at(hello.node_id())->stats.http_address = hello.http_address();
    spdlog::info("peer {} ({}) connected from {}", hello.node_name(), hello.node_id(), remote);
    auto last_heard = std::make_shared<Clock::time_point>(Clock::now());
    asio::co_spawn(io_, watch_incoming(conn, last_heard), asio::detached);
    // This coroutine is the connection's only writer: it answers each Ping before reading on,
    // so Pongs never interleave with another write. Pongs are tiny and the peer reads them
    // continuously, so the write does not hold up reading; if the peer stops reading, it also
    // stops hearing Pongs and replaces the connection.
    for (;;) {
      Result<Frame> f = co_await conn->read_frame();
      // Closed for silence or by stop(): drop what was still buffered.
      if (!conn->socket().is_open()) break;
      if (!f.is_ok()) {
        if (f.status().code() != Code::kUnavailable)
          reject("malformed frame", remote + ": " + f.status().message());
        break;
      }
      *last_heard = Clock::now();
      if (f->kind == FrameKind::kPing) {
        pb::Ping ping;
        if (!ping.ParseFromString(f->payload)) {
          reject("malformed frame", remote + ": not a Ping");
          break;
        }
        pb::Pong pong;
        pong.set_nonce(ping.nonce());
        std::string frame;
        append_frame(frame, FrameKind::kPong, pong.SerializeAsString());
        if (!(co_await conn->write(frame)).is_ok()) break;
        continue;
      }
      raft::pb::Message m;
      if (f->kind != FrameKind::kRaft || !m.ParseFromString(f->payload)) {
        reject("malformed frame", remote + ": not a Raft message or a Ping");
        break;
      }
      if (m.from() != hello.node_id()) {
        reject("spoofed sender", remote + ": node " + std::to_string(hello.node_id()) +
                                     " sent a message from " + std::to_string(m.from()));
        break;
      }
      on_message_(std::move(m));
      if (stopped_) break;
    }
    spdlog::info("peer {} ({}) disconnected", hello.node_name(), hello.node_id());
  }
  conn->close();
  incoming_.erase(conn.get());
}

asio::awaitable<void> PeerTransport::watch_incoming(std::shared_ptr<FramedSocket> conn,
                                                    std::shared_ptr<Clock::time_point> last_heard) {
  // The peer pings every ping_interval, so silence means its end is gone (host crashed,
  // partition, connection replaced) without a FIN that will ever arrive: a socket that only
  // reads would wait forever, and whatever the peer's kernel still retransmits on it after a
  // heal would be delivered as late, stale Raft messages.
  asio::steady_timer timer(io_);
  while (!stopped_ && conn->socket().is_open()) {
    timer.expires_after(opt_.ping_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || !conn->socket().is_open()) break;
    if (Clock::now() - *last_heard >= opt_.silence_timeout) {
      log_.warn("peer port: silent connection closed", conn->remote());
      conn->close();  // serve_incoming's read fails and it cleans up
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outgoing

asio::awaitable<Status> PeerTransport::connect_and_greet(Peer* peer) {
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = co_await resolver.async_resolve(peer->endpoint.host, std::to_string(peer->endpoint.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec)
    co_return Status(Code::kUnavailable,
                     "cannot resolve " + peer->endpoint.to_string() + ": " + ec.message());
  // Shared with the timer's handler: a timer that expires as the connect completes still runs
  // its handler after cancel(), possibly after this coroutine has returned.
  auto sock = std::make_shared<tcp::socket>(io_);
  {
    // A connect to an address that never answers would hang for minutes, and during a partition
    // the kernel's SYN retransmission backoff would leave a healed link unused for seconds;
    // give up soon and let the caller try again with a fresh SYN (see connect_timeout).
    asio::steady_timer timer(io_, opt_.connect_timeout);
    timer.async_wait([sock](boost::system::error_code e) {
      if (!e) sock->close();
    });
    co_await asio::async_connect(*sock, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
  }
  if (ec || !sock->is_open())
    co_return Status(Code::kUnavailable, "cannot connect to " + peer->endpoint.to_string());
  sock->set_option(tcp::no_delay(true), ec);
  set_user_timeout(*sock);
  auto conn = std::make_shared<FramedSocket>(std::move(*sock), opt_.frame_bytes_max);
  if (Status s = co_await conn->write(hello_frame()); !s.is_ok()) co_return s;
  Result<Frame> r = co_await conn->read_frame_within(opt_.handshake_timeout);
  if (!r.is_ok())
    co_return Status(Code::kUnavailable, peer->endpoint.to_string() + " refused us: " + r.status().message());
  pb::Hello reply;
  if (r->kind != FrameKind::kHello || !reply.ParseFromString(r->payload)) {
    co_return Status(Code::kInvalidArgument, peer->endpoint.to_string() + " answered without a Hello");
  }
  if (Status s = check_hello(reply, opt_.cluster_id, pb::Hello::PEER); !s.is_ok()) co_return s;
  if (reply.node_id() != peer->id) {
    co_return Status(Code::kInvalidArgument, peer->endpoint.to_string() + " is node " +
                                                 std::to_string(reply.node_id()) + ", expected " +
                                                 std::to_string(peer->id));
  }
  // The reply carries the peer's HTTP address too: learn it even if its connection to us is down.
  peer->stats.http_address = reply.http_address();
  peer->conn = std::move(conn);
  co_return Status::ok();
}

void PeerTransport::on_pong(Peer* peer, uint64_t nonce) {
  // Pongs come back in Ping order, so older nonces still waiting will never be answered.
  while (!peer->pings.empty() && peer->pings.front().first < nonce) peer->pings.pop_front();
  if (peer->pings.empty() || peer->pings.front().first != nonce) return;  // not ours: ignore
  const double sample = std::chrono::duration<double>(Clock::now() - peer->pings.front().second).count();
  peer->pings.pop_front();
  PeerStats& s = peer->stats;
  s.last_rtt_seconds = sample;
  s.rtt_seconds = s.rtt_seconds ? *s.rtt_seconds + (sample - *s.rtt_seconds) / 8 : sample;
}

asio::awaitable<void> PeerTransport::watch_outgoing(Peer* peer, std::shared_ptr<FramedSocket> conn) {
  // Only Pongs come back on an outgoing connection. peer->conn != conn means this connection
  // was replaced or closed: its late frames must not touch the current one's state.
  for (;;) {
    Result<Frame> f = co_await conn->read_frame();
    if (stopped_ || peer->conn != conn || !conn->socket().is_open()) break;
    if (!f.is_ok()) {
      if (f.status().code() != Code::kUnavailable) {
        reject("malformed frame", peer->endpoint.to_string() + ": " + f.status().message());
      }
      break;
    }
    pb::Pong pong;
    if (f->kind != FrameKind::kPong || !pong.ParseFromString(f->payload)) {
      reject("malformed frame", peer->endpoint.to_string() + ": expected a Pong");
      break;
    }
    peer->last_heard = Clock::now();
    on_pong(peer, pong.nonce());
  }
  conn->close();
  // Wake the writer only if it still writes to this connection: it notices the closed socket.
  if (!stopped_ && peer->conn == conn) peer->wake->cancel();
}

asio::awaitable<void> PeerTransport::keep_alive(Peer* peer, std::shared_ptr<FramedSocket> conn) {
  // Runs apart from the writer: during a partition the writer blocks in a write that fills the
  // socket buffer, and the silence check must still run to close that connection.
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(opt_.ping_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_ || peer->conn != conn || !conn->socket().is_open()) break;
    if (Clock::now() - peer->last_heard >= opt_.silence_timeout) {
      ++peer->stats.silence_closes;
      log_.warn("peer " + std::to_string(peer->id) + " silent",
                "no Pong for " + std::to_string(opt_.silence_timeout.count()) + " ms; reconnecting");
      conn->close();
      peer->wake->cancel();
      break;
    }
    peer->ping_due = true;
    peer->wake->cancel();
  }
}

asio::awaitable<void> PeerTransport::run_outgoing(Peer* peer) {
  auto backoff = opt_.backoff_min;
  while (!stopped_) {
    Status s = co_await connect_and_greet(peer);
    if (stopped_) break;
    if (!s.is_ok()) {
      log_.warn("peer " + std::to_string(peer->id) + " unreachable", s.message());
      // Capped exponential backoff with jitter, so restarted nodes do not reconnect in lockstep.
      auto wait = backoff + std::chrono::milliseconds(jitter_() % (backoff.count() / 2 + 1));
      peer->wake->expires_after(wait);
      boost::system::error_code ec;
      co_await peer->wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min(backoff * 2, opt_.backoff_max);
      continue;
    }
    backoff = opt_.backoff_min;
    std::shared_ptr<FramedSocket> conn = peer->conn;
    if (peer->ever_connected) ++peer->stats.reconnects;
    peer->ever_connected = true;
    peer->stats.connected = true;
    peer->pings.clear();
    peer->last_heard = Clock::now();  // the Hello reply was just heard
    peer->ping_due = true;            // a first RTT sample right away
    spdlog::info("connected to peer {} at {}", peer->id, peer->endpoint.to_string());
    asio::co_spawn(io_, watch_outgoing(peer, conn), asio::detached);
    asio::co_spawn(io_, keep_alive(peer, conn), asio::detached);
    while (!stopped_ && conn->socket().is_open()) {
      if (peer->queue.empty() && !peer->ping_due) {
        peer->wake->expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await peer->wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      // Many frames per write: the Ping first (so queued bytes delay it least), then everything
      // queued, up to write_bytes_max.
      std::string batch;
      if (peer->ping_due) {
        peer->ping_due = false;
        pb::Ping ping;
        ping.set_nonce(peer->next_nonce++);
        append_frame(batch, FrameKind::kPing, ping.SerializeAsString());
        peer->pings.emplace_back(ping.nonce(), Clock::now());
      }
      uint64_t frames = 0;
      while (!peer->queue.empty() && batch.size() < opt_.write_bytes_max) {
        batch += peer->queue.front();
        peer->queue.pop_front();
        ++frames;
      }
      if (!(co_await conn->write(batch)).is_ok()) break;  // lost with the connection; Raft resends
      peer->stats.sent += frames;
    }
    conn->close();
    peer->conn.reset();
    peer->stats.dropped += peer->queue.size();
    peer->queue.clear();
    peer->stats.connected = false;
    peer->stats.rtt_seconds.reset();
    peer->pings.clear();
    if (!stopped_) spdlog::info("disconnected from peer {}", peer->id);
  }
}

}  // namespace castor::net
