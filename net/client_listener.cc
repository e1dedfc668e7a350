#include "net/client_listener.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>

#include "net/accept_error.h"
#include "net/acceptor.h"
#include "net/hello.h"

namespace castor::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The most one write of the writer gathers from the queue of response frames.
constexpr size_t kWriteBatchBytesMax = 1 << 20;

struct ClientListener::Conn {
  Conn(tcp::socket s, uint32_t frame_bytes_max, asio::io_context& io)
      : sock(std::move(s), frame_bytes_max), wake_writer(io), wake_reader(io) {}
  FramedSocket sock;
  std::deque<std::string> out;  // encoded response frames
  size_t out_bytes = 0;         // in `out` and in the write under way
  std::string remote;           // host:port, for log lines
  asio::steady_timer wake_writer;
  asio::steady_timer wake_reader;
  size_t in_flight = 0;
  std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
  // When the write under way began; the watchdog closes a connection whose client takes no
  // write within write_timeout. One clock read per write instead of a timer armed and
  // cancelled per write, which a watch's stream of small answers paid for every answer.
  std::optional<std::chrono::steady_clock::time_point> writing_since;
  bool half_closed = false;  // the client sent its last request; answer what it waits for, then close
  bool closed = false;

  // Nothing asked and unanswered, nothing waiting to be written.
  bool idle() const { return in_flight == 0 && out_bytes == 0; }

  void close() {
    if (closed) return;
    closed = true;
    sock.close();
    wake_writer.cancel();
    wake_reader.cancel();
  }
};

ClientListener::ClientListener(asio::io_context& io, ClientListenerOptions options, OnRequest on_request)
    : io_(io), opt_(std::move(options)), on_request_(std::move(on_request)) {}

ClientListener::~ClientListener() { stop(); }

Result<Endpoint> ClientListener::start(const Endpoint& listen) {
  auto acceptor = open_acceptor(io_, listen, "clients");
  if (!acceptor.is_ok()) return acceptor.status();
  acceptor_ = std::move(*acceptor);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, watchdog_loop(), asio::detached);
  return Endpoint{listen.host, acceptor_->local_endpoint().port()};
}

void ClientListener::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  for (auto& [raw, conn] : conns_) conn->close();
}

void ClientListener::reject(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  log_.warn("client port: " + reason, detail);
}

asio::awaitable<void> ClientListener::accept_loop() {
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket sock = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_) break;
      co_await handle_accept_error(ec, "client port", rejected_, log_);
      continue;
    }
    if (conns_.size() >= opt_.connections_max) {
      if (Conn* idle = idlest()) {
        reject("idle evicted", idle->remote + ": its slot went to a new connection");
        idle->close();
      } else {
        reject("too many connections", "limit " + std::to_string(opt_.connections_max));
        auto conn = std::make_shared<Conn>(std::move(sock), opt_.frame_bytes_max, io_);
        asio::co_spawn(io_,
                       refuse(conn, "too many client connections (" + std::to_string(opt_.connections_max) +
                                        ", none idle): retry later"),
                       asio::detached);
        continue;
      }
    }
    asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
  }
}

ClientListener::Conn* ClientListener::idlest() const {
  Conn* found = nullptr;
  for (const auto& [raw, conn] : conns_) {
    if (!conn->closed && conn->idle() && (!found || conn->last_active < found->last_active)) found = raw;
  }
  return found;
}

asio::awaitable<void> ClientListener::watchdog_loop() {
  asio::steady_timer timer(io_);
  const auto every = std::min(
      {opt_.idle_timeout / 4, opt_.write_timeout / 4, std::chrono::milliseconds(std::chrono::seconds(1))});
  while (!stopped_) {
    timer.expires_after(every);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [raw, conn] : conns_) {
      if (conn->idle() && now - conn->last_active > opt_.idle_timeout) {
        reject("idle",
               conn->remote + ": nothing asked for " + std::to_string(opt_.idle_timeout.count()) + " ms");
        conn->close();
      } else if (conn->writing_since && now - *conn->writing_since > opt_.write_timeout) {
        reject("slow reader", conn->remote + ": the client took no write within " +
                                  std::to_string(opt_.write_timeout.count()) + " ms");
        conn->close();
      }
    }
  }
}

asio::awaitable<void> ClientListener::refuse(std::shared_ptr<Conn> conn, std::string why) {
  pb::Hello hello = make_hello(opt_.cluster_id, opt_.node_id, pb::Hello::PEER, opt_.node_name);
  hello.set_refused(std::move(why));
  std::string frame;
  append_frame(frame, FrameKind::kHello, hello.SerializeAsString());
  // Best effort: the refusal is logged and counted already, and the connection closes either way.
  [[maybe_unused]] const Status told = co_await conn->sock.write_within(frame, std::chrono::seconds(1));
  conn->close();
}

asio::awaitable<void> ClientListener::serve(tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto conn = std::make_shared<Conn>(std::move(socket), opt_.frame_bytes_max, io_);
  conns_[conn.get()] = conn;
  conn->remote = conn->sock.remote();
  if (co_await handshake(conn)) {
    asio::co_spawn(io_, write_loop(conn), asio::detached);
    co_await read_requests(conn);
  }
  conn->close();
  conns_.erase(conn.get());
}

// Reads the client's Hello and, when it fits this cluster, queues ours in answer. False when
// the connection is refused (a Hello that parsed but does not fit is told why; bytes that are
// no Hello get nothing).
asio::awaitable<bool> ClientListener::handshake(std::shared_ptr<Conn> conn) {
  Result<Frame> first = co_await conn->sock.read_frame_within(opt_.handshake_timeout);
  pb::Hello hello;
  if (Status why = check_first_frame(first, opt_.cluster_id, pb::Hello::CLIENT, hello); !why.is_ok()) {
    reject("refused connection", conn->remote + ": " + why.message());
    if (first.is_ok() && first->kind == FrameKind::kHello) co_await refuse(conn, why.message());
    co_return false;
  }
  std::string reply;
  append_frame(
      reply, FrameKind::kHello,
      make_hello(opt_.cluster_id, opt_.node_id, pb::Hello::PEER, opt_.node_name).SerializeAsString());
  conn->out_bytes += reply.size();
  conn->out.push_back(std::move(reply));
  co_return true;
}

// Reads request frames and hands each to on_request_, while the connection has room for more
// answers in flight; stops at a malformed frame, a close or stop().
asio::awaitable<void> ClientListener::read_requests(std::shared_ptr<Conn> conn) {
  boost::system::error_code ec;
  while (!conn->closed && !stopped_) {
    if (conn->in_flight >= opt_.in_flight_max || conn->out_bytes >= opt_.queued_bytes_soft) {
      conn->wake_reader.expires_at(asio::steady_timer::time_point::max());
      co_await conn->wake_reader.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Result<Frame> f = co_await conn->sock.read_frame();
    if (!f.is_ok() && f.status().message() == kPeerClosed) {
      co_await finish_half_closed(conn);
      co_return;
    }
    if (!f.is_ok()) {
      if (f.status().code() != Code::kUnavailable)
        reject("malformed frame", conn->remote + ": " + f.status().message());
      co_return;
    }
    if (f->kind != FrameKind::kRequest) {
      reject("malformed frame", conn->remote + ": expected a request frame");
      co_return;
    }
    ++conn->in_flight;
    conn->last_active = std::chrono::steady_clock::now();
    on_request_(std::move(f->payload), Respond(this, conn));
  }
}

void ClientListener::Respond::send(std::string payload, bool last) const {
  listener_->queue_answer(conn_, std::move(payload), last);
}

uint64_t ClientListener::Respond::queued_bytes() const {
  auto c = conn_.lock();
  return c && !c->closed ? c->out_bytes : 0;
}

bool ClientListener::Respond::open() const {
  auto c = conn_.lock();
  return c && !c->closed && !c->half_closed;
}

void ClientListener::Respond::abandon() const { listener_->end_unanswered(conn_); }

void ClientListener::end_unanswered(const std::weak_ptr<Conn>& weak) {
  auto c = weak.lock();
  if (!c || c->closed) return;
  --c->in_flight;
  c->wake_writer.cancel();  // a half-closed connection may now have nothing left to wait for
}

// Queues one answer for the writer; a client that leaves more than queued_bytes_max of them
// unread is cut off. The last answer of a request ends it.
void ClientListener::queue_answer(const std::weak_ptr<Conn>& weak, std::string payload, bool last) {
  auto c = weak.lock();
  if (!c || c->closed) return;
  if (last) --c->in_flight;
  std::string frame;
  append_frame(frame, FrameKind::kResponse, payload);
  c->out_bytes += frame.size();
  c->out.push_back(std::move(frame));
  if (c->out_bytes > opt_.queued_bytes_max) {
    reject("slow reader", c->remote + ": " + std::to_string(c->out_bytes) + " bytes of answers not taken");
    return c->close();
  }
  c->wake_writer.cancel();
  c->wake_reader.cancel();
}

// A client that shut down its sending side may still read: the writer sends every answer it
// waits for, then closes the connection (the server's request deadline bounds the wait).
asio::awaitable<void> ClientListener::finish_half_closed(std::shared_ptr<Conn> conn) {
  conn->half_closed = true;
  conn->wake_writer.cancel();
  while (!conn->closed && !stopped_) {
    conn->wake_reader.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await conn->wake_reader.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> ClientListener::write_loop(std::shared_ptr<Conn> conn) {
  while (!conn->closed) {
    if (conn->out.empty() && conn->half_closed && conn->in_flight == 0) break;
    if (conn->out.empty()) {
      conn->wake_writer.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await conn->wake_writer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // The responses ready now go out together, up to kWriteBatchBytesMax per write: one system
    // call for many small answers, but a long queue of large ones is never copied whole. That
    // copy doubled what a client that does not read costs the node (the queue's freed frames
    // stay in the heap): 138 MiB for 64 MiB of answers (tests/bad_input/test_answers.py).
    std::string batch = std::move(conn->out.front());
    conn->out.pop_front();
    while (!conn->out.empty() && batch.size() + conn->out.front().size() <= kWriteBatchBytesMax) {
      batch += conn->out.front();
      conn->out.pop_front();
    }
    conn->writing_since = std::chrono::steady_clock::now();
    const Status written = co_await conn->sock.write(batch);
    conn->writing_since.reset();
    if (!written.is_ok()) break;  // closed by the client, or by the watchdog (counted there)
    conn->out_bytes -= batch.size();
    conn->last_active = std::chrono::steady_clock::now();
    conn->wake_reader.cancel();
  }
  conn->close();
}

}  // namespace castor::net
