#include "net/peer_transport.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "net/acceptor.h"
#include "net/hello.h"

namespace castor::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

PeerTransport::PeerTransport(asio::io_context& io, PeerTransportOptions options, OnMessage on_message)
    : io_(io), opt_(std::move(options)), on_message_(std::move(on_message)), jitter_(opt_.node_id) {}

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
  if (p.queue.size() >= opt_.queue_messages_max) {
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
      log_.warn("peer port: accept failed", ec.message());
      continue;
    }
    asio::co_spawn(io_, serve_incoming(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> PeerTransport::serve_incoming(tcp::socket socket) {
  auto conn = std::make_shared<FramedSocket>(std::move(socket), opt_.frame_bytes_max);
  incoming_[conn.get()] = conn;
  const std::string remote = conn->remote();
  Result<Frame> first = co_await conn->read_frame_within(opt_.handshake_timeout);
  pb::Hello hello;
  Status why;
  if (!first.is_ok()) {
    why = first.status();
  } else if (first->kind != FrameKind::kHello || !hello.ParseFromString(first->payload)) {
    why = Status(Code::kInvalidArgument, "the first frame is not a Hello");
  } else if (Status s = check_hello(hello, opt_.cluster_id, pb::Hello::PEER); !s.is_ok()) {
    why = s;
  } else if (!peers_.count(hello.node_id())) {
    why = Status(Code::kInvalidArgument, "node id " + std::to_string(hello.node_id()) + " is not a member");
  }
  if (!why.is_ok()) {
    reject("refused connection", remote + ": " + why.message());
  } else {
    std::string reply;
    append_frame(reply, FrameKind::kHello,
                 make_hello(opt_.cluster_id, opt_.node_id, pb::Hello::PEER, opt_.node_name).SerializeAsString());
    if ((co_await conn->write(reply)).is_ok()) {
      spdlog::info("peer {} ({}) connected from {}", hello.node_name(), hello.node_id(), remote);
      for (;;) {
        Result<Frame> f = co_await conn->read_frame();
        if (!f.is_ok()) {
          if (f.status().code() != Code::kUnavailable) reject("malformed frame", remote + ": " + f.status().message());
          break;
        }
        raft::pb::Message m;
        if (f->kind != FrameKind::kRaft || !m.ParseFromString(f->payload)) {
          reject("malformed frame", remote + ": not a Raft message");
          break;
        }
        if (m.from() != hello.node_id()) {
          reject("spoofed sender", remote + ": node " + std::to_string(hello.node_id()) + " sent a message from " +
                                       std::to_string(m.from()));
          break;
        }
        on_message_(std::move(m));
        if (stopped_) break;
      }
      spdlog::info("peer {} ({}) disconnected", hello.node_name(), hello.node_id());
    }
  }
  conn->close();
  incoming_.erase(conn.get());
}

// ---------------------------------------------------------------------------------------------
// Outgoing

asio::awaitable<Status> PeerTransport::connect_and_greet(Peer* peer) {
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = co_await resolver.async_resolve(peer->endpoint.host, std::to_string(peer->endpoint.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Code::kUnavailable, "cannot resolve " + peer->endpoint.to_string() + ": " + ec.message());
  tcp::socket sock(io_);
  {
    // A connect to an address that never answers would hang for minutes; give up sooner.
    asio::steady_timer timer(io_, opt_.handshake_timeout);
    timer.async_wait([&sock](boost::system::error_code e) {
      if (!e) sock.close();
    });
    co_await asio::async_connect(sock, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
  }
  if (ec || !sock.is_open()) co_return Status(Code::kUnavailable, "cannot connect to " + peer->endpoint.to_string());
  sock.set_option(tcp::no_delay(true), ec);
  auto conn = std::make_shared<FramedSocket>(std::move(sock), opt_.frame_bytes_max);
  std::string hello;
  append_frame(hello, FrameKind::kHello,
               make_hello(opt_.cluster_id, opt_.node_id, pb::Hello::PEER, opt_.node_name).SerializeAsString());
  if (Status s = co_await conn->write(hello); !s.is_ok()) co_return s;
  Result<Frame> r = co_await conn->read_frame_within(opt_.handshake_timeout);
  if (!r.is_ok()) co_return Status(Code::kUnavailable, peer->endpoint.to_string() + " refused us: " + r.status().message());
  pb::Hello reply;
  if (r->kind != FrameKind::kHello || !reply.ParseFromString(r->payload)) {
    co_return Status(Code::kInvalidArgument, peer->endpoint.to_string() + " answered without a Hello");
  }
  if (Status s = check_hello(reply, opt_.cluster_id, pb::Hello::PEER); !s.is_ok()) co_return s;
  if (reply.node_id() != peer->id) {
    co_return Status(Code::kInvalidArgument, peer->endpoint.to_string() + " is node " + std::to_string(reply.node_id()) +
                                                 ", expected " + std::to_string(peer->id));
  }
  peer->conn = std::move(conn);
  co_return Status::ok();
}

asio::awaitable<void> PeerTransport::watch_outgoing(Peer* peer, std::shared_ptr<FramedSocket> conn) {
  // Nothing is expected back on an outgoing connection; a read returns only when it breaks.
  co_await conn->read_frame();
  conn->close();
  if (!stopped_) peer->wake->cancel();
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
    peer->stats.connected = true;
    spdlog::info("connected to peer {} at {}", peer->id, peer->endpoint.to_string());
    asio::co_spawn(io_, watch_outgoing(peer, conn), asio::detached);
    while (!stopped_ && conn->socket().is_open()) {
      if (peer->queue.empty()) {
        peer->wake->expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec;
        co_await peer->wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      // Many frames per write: everything queued, up to write_bytes_max.
      std::string batch;
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
    peer->stats.connected = false;
    if (!stopped_) spdlog::info("disconnected from peer {}", peer->id);
  }
}

}  // namespace castor::net
