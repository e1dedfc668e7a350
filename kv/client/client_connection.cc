#include "kv/client/client_connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/hello.h"
#include "raft/base/assert.h"

namespace castor::kv {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

ClientConnection::ClientConnection(asio::io_context& io, net::Endpoint endpoint, const ClientOptions& options)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      resolver_(io),
      socket_(io),
      wake_writer_(io) {}

ClientConnection::~ClientConnection() { close(Status(Code::kUnavailable, "client closed")); }

asio::awaitable<Status> ClientConnection::ready(Clock::time_point deadline) {
  // Keeps this connection alive while the caller waits, even if the client drops it.
  auto self = shared_from_this();
  if (state_ == State::kIdle) {
    state_ = State::kConnecting;
    Status s = co_await connect(deadline);
    if (!s.is_ok()) {
      close(s);
    } else if (state_ == State::kConnecting) {
      state_ = State::kReady;
      asio::co_spawn(io_, read_loop(self), asio::detached);
      asio::co_spawn(io_, write_loop(self), asio::detached);
    }
    wake_ready_waiters();
  }
  while (state_ == State::kConnecting && Clock::now() < deadline) {
    asio::steady_timer waiter(io_, deadline);
    ready_waiters_.push_back(&waiter);
    boost::system::error_code ec;
    co_await waiter.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::erase(ready_waiters_, &waiter);
  }
  switch (state_) {
    case State::kReady:
      co_return Status::ok();
    case State::kClosed:
      co_return closed_why_;
    case State::kIdle:
    case State::kConnecting:
      break;
  }
  co_return Status(Code::kUnavailable, endpoint_.to_string() + ": still connecting at the deadline");
}

void ClientConnection::wake_ready_waiters() {
  for (asio::steady_timer* t : ready_waiters_) t->cancel();
}

asio::awaitable<Status> ClientConnection::connect(Clock::time_point deadline) {
  const std::string where = endpoint_.to_string();
  // A watchdog closes the socket at the deadline, which ends whichever step is in progress.
  // Its handler may run after this coroutine has returned (it expired just as the handshake
  // finished), so it shares nothing with this frame.
  asio::steady_timer watchdog(io_, deadline);
  auto timed_out = std::make_shared<bool>(false);
  watchdog.async_wait([this, self = shared_from_this(), timed_out](boost::system::error_code ec) {
    if (ec || state_ != State::kConnecting) return;
    *timed_out = true;
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (framed_) framed_->close();
  });
  auto finish = [&](Status s) {
    watchdog.cancel();
    if (*timed_out) return Status(Code::kUnavailable, where + ": no connection within the attempt timeout");
    return s;
  };

  boost::system::error_code ec;
  auto addresses = co_await resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return finish(Status(Code::kUnavailable, where + ": cannot resolve: " + ec.message()));
  co_await asio::async_connect(socket_, addresses, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return finish(Status(Code::kUnavailable, where + ": " + ec.message()));
  socket_.set_option(tcp::no_delay(true), ec);
  framed_.emplace(std::move(socket_), options_.frame_bytes_max);

  std::string hello;
  net::append_frame(
      hello, net::FrameKind::kHello,
      net::make_hello(options_.cluster_id, 0, net::pb::Hello::CLIENT, options_.name).SerializeAsString());
  if (Status s = co_await framed_->write(hello); !s.is_ok())
    co_return finish(Status(Code::kUnavailable, where + ": " + s.message()));
  Result<net::Frame> reply = co_await framed_->read_frame();
  if (!reply.is_ok()) {
    // A node closes the connection without a word when it refuses our Hello.
    co_return finish(
        Status(Code::kUnavailable, where + ": the node closed the connection during the handshake (" +
                                       reply.status().message() + "; is --cluster-id right?)"));
  }
  net::pb::Hello their;
  if (reply->kind != net::FrameKind::kHello || !their.ParseFromString(reply->payload)) {
    co_return finish(Status(Code::kUnavailable, where + ": the node's first frame is not a Hello"));
  }
  if (!their.refused().empty()) {
    co_return finish(
        Status(Code::kUnavailable, where + ": the node refused the connection: " + their.refused()));
  }
  if (Status s = net::check_hello(their, options_.cluster_id, net::pb::Hello::PEER); !s.is_ok()) {
    co_return finish(Status(Code::kUnavailable, where + ": " + s.message()));
  }
  node_id_ = their.node_id();
  co_return finish(Status::ok());
}

Status ClientConnection::send(const pb::ClientRequest& request) {
  if (state_ != State::kReady) {
    return state_ == State::kClosed ? closed_why_ : Status(Code::kUnavailable, "not connected");
  }
  const std::string payload = request.SerializeAsString();
  if (payload.size() + 1 > options_.frame_bytes_max) {
    return Status(Code::kTooLarge, "request of " + std::to_string(payload.size()) +
                                       " bytes exceeds the frame limit of " +
                                       std::to_string(options_.frame_bytes_max));
  }
  net::append_frame(out_, net::FrameKind::kRequest, payload);
  wake_writer_.cancel();
  return Status::ok();
}

asio::awaitable<ClientConnection::Reply> ClientConnection::call(const pb::ClientRequest& request,
                                                                Clock::time_point until) {
  auto self = shared_from_this();
  if (Status s = send(request); !s.is_ok()) co_return Reply{s, false};
  Pending pending(io_);
  pending.timer.expires_at(until);
  const uint64_t id = request.request_id();
  pending_[id] = &pending;

  boost::system::error_code ec;
  co_await pending.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (pending.response) co_return Reply{std::move(*pending.response), true};
  pending_.erase(id);
  co_return Reply{
      Status(Code::kUnavailable, endpoint_.to_string() + ": no answer within the attempt timeout"), true};
}

Result<std::shared_ptr<ClientConnection::Stream>> ClientConnection::open_stream(
    const pb::ClientRequest& request) {
  const uint64_t id = request.request_id();
  CASTOR_ASSERT(!streams_.contains(id), "a stream's request_id is already in use on this connection");
  if (Status s = send(request); !s.is_ok()) return s;
  std::shared_ptr<Stream> stream(new Stream(io_, weak_from_this(), id));
  streams_[id] = stream.get();
  return stream;
}

void ClientConnection::route(pb::ClientResponse response, uint64_t bytes) {
  const uint64_t id = response.request_id();
  if (auto it = pending_.find(id); it != pending_.end()) {
    it->second->response = std::move(response);
    it->second->timer.cancel();
    pending_.erase(it);
    return;
  }
  // An answer nobody waits for (its call gave up, its stream was dropped) is dropped.
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream* stream = it->second;
  stream->take(std::move(response), bytes, options_.stream_queued_bytes_max);
  if (stream->ended_) streams_.erase(it);
}

ClientConnection::Stream::~Stream() {
  if (auto conn = conn_.lock()) conn->streams_.erase(request_id_);
}

void ClientConnection::Stream::take(pb::ClientResponse response, uint64_t bytes, uint64_t queued_bytes_max) {
  if (queued_bytes_ + bytes > queued_bytes_max) {
    return end(Status(Code::kTooSlow, "more than " + std::to_string(queued_bytes_max) +
                                          " bytes of answers waited unread (stream_queued_bytes_max)"));
  }
  queued_bytes_ += bytes;
  queue_.emplace_back(std::move(response), bytes);
  wake_.cancel();
}

void ClientConnection::Stream::end(Status why) {
  if (ended_) return;
  ended_ = std::move(why);
  wake_.cancel();
}

asio::awaitable<Result<pb::ClientResponse>> ClientConnection::Stream::next(Clock::time_point until) {
  if (queue_.empty() && !ended_) {
    wake_.expires_at(until);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!queue_.empty()) {
    auto [r, bytes] = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= bytes;
    co_return std::move(r);
  }
  if (ended_) co_return *ended_;
  co_return Status(Code::kUnavailable, "no answer on the stream by the deadline");
}

asio::awaitable<void> ClientConnection::read_loop(std::shared_ptr<ClientConnection> /*keep_alive*/) {
  while (state_ == State::kReady) {
    Result<net::Frame> f = co_await framed_->read_frame();
    if (!f.is_ok()) {
      close(Status(Code::kUnavailable, endpoint_.to_string() + ": connection lost: " + f.status().message()));
      break;
    }
    pb::ClientResponse response;
    if (f->kind != net::FrameKind::kResponse || !response.ParseFromString(f->payload)) {
      close(Status(Code::kUnavailable,
                   endpoint_.to_string() + ": the node sent a frame that is not a response"));
      break;
    }
    route(std::move(response), f->payload.size());
  }
}

asio::awaitable<void> ClientConnection::write_loop(std::shared_ptr<ClientConnection> /*keep_alive*/) {
  while (state_ == State::kReady) {
    if (out_.empty()) {
      wake_writer_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await wake_writer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // Every request queued since the last write goes out in one write.
    std::string batch;
    batch.swap(out_);
    if (Status s = co_await framed_->write(batch); !s.is_ok()) {
      close(Status(Code::kUnavailable, endpoint_.to_string() + ": connection lost: " + s.message()));
      break;
    }
  }
}

void ClientConnection::close(const Status& why) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  closed_why_ = why;
  resolver_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (framed_) framed_->close();
  wake_writer_.cancel();
  for (auto& [id, pending] : pending_) {
    pending->response = why;
    pending->timer.cancel();
  }
  pending_.clear();
  for (auto& [id, stream] : streams_) stream->end(why);
  streams_.clear();
  out_.clear();
  wake_ready_waiters();
}

}  // namespace castor::kv
