// ClientConnection: a client's TCP connection to one node. It connects, exchanges Hellos
// (learning the node's Raft id), then carries many requests at once (pipelining) and hands
// each response to the call waiting for its request_id, in whatever order they arrive.
//
// Streams: a request answered many times (a watch) is opened with open_stream() instead of
// call(). Every response with its request_id then goes to the Stream, in arrival order, until
// the Stream is destroyed or the connection closes; the owner reads them with Stream::next()
// and decides which answer is the last. Responses wait in the Stream for the owner; past
// ClientOptions::stream_queued_bytes_max unread the Stream ends with TOO_SLOW instead of
// growing (the node does the same to a watcher that does not read), and later responses for
// it are dropped. A stream is ended by a request of the owner's own (a WatchCancelRequest sent
// with call()) or by closing the connection.
//
// What it does NOT do: choose nodes, retry, or read response codes (Client does all three);
// reconnect (a closed connection stays closed, and Client opens a new one); know which answer
// of a stream is its last (the owner does: a watch's has `canceled`).
// Threading: every method runs on the io_context's single thread. Its reader and writer
// coroutines hold a shared_ptr to it, so it lives until both have ended; close() ends them.
#pragma once

// clang-format off: Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/client/client_options.h"
#include "kv/kv.pb.h"
#include "net/endpoint.h"
#include "net/framed_socket.h"
#include "raft/base/status.h"

namespace castor::kv {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  // What became of one request on this connection.
  struct Reply {
    // The response; or kUnavailable when the connection broke or `until` passed first, or
    // kTooLarge when the request does not fit in a frame.
    Result<pb::ClientResponse> response;
    // Whether the request was handed to the socket, so that the node may have acted on it.
    bool sent = false;
  };

  // The answers of one request answered many times, as they arrive. Made by open_stream();
  // destroying it stops the routing of its request_id's answers (they are then dropped).
  class Stream {
   public:
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // The next answer, waiting for it until `until`. kUnavailable when `until` passes first or
    // the connection closed (with why), kTooSlow once more than stream_queued_bytes_max of
    // answers waited unread. One next() at a time.
    boost::asio::awaitable<Result<pb::ClientResponse>> next(Clock::time_point until);
    uint64_t request_id() const { return request_id_; }

   private:
    friend class ClientConnection;
    Stream(boost::asio::io_context& io, std::weak_ptr<ClientConnection> conn, uint64_t request_id)
        : conn_(std::move(conn)), request_id_(request_id), wake_(io) {}
    // The connection hands it an answer, or ends it with `why`.
    // `bytes`: the answer's size on the wire, what it counts against queued_bytes_max.
    void take(pb::ClientResponse response, uint64_t bytes, uint64_t queued_bytes_max);
    void end(Status why);

    std::weak_ptr<ClientConnection> conn_;
    const uint64_t request_id_;
    boost::asio::steady_timer wake_;
    std::deque<std::pair<pb::ClientResponse, uint64_t>> queue_;  // with each answer's bytes
    uint64_t queued_bytes_ = 0;
    std::optional<Status> ended_;  // why no more answers come, once none will
  };

  ClientConnection(boost::asio::io_context& io, net::Endpoint endpoint, const ClientOptions& options);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Connects and exchanges Hellos by `deadline`, or waits for the attempt already under way.
  // OK once the connection can carry requests; otherwise the reason, and the connection is
  // closed for good.
  boost::asio::awaitable<Status> ready(Clock::time_point deadline);
  // Sends `request` (after ready() succeeded) and waits for its response until `until`. A
  // response that arrives after `until` is dropped.
  boost::asio::awaitable<Reply> call(const pb::ClientRequest& request, Clock::time_point until);
  // Sends `request` (after ready() succeeded) and returns the Stream of its answers; kTooLarge
  // when it does not fit in a frame, the reason when the connection is not ready. `request`'s
  // request_id must not be in use on this connection.
  Result<std::shared_ptr<Stream>> open_stream(const pb::ClientRequest& request);

  // Fails every waiting call and ends every stream with `why`, and closes the socket.
  void close(const Status& why);
  bool is_closed() const { return state_ == State::kClosed; }
  // The node's Raft id from its Hello; 0 until ready() succeeded.
  uint64_t node_id() const { return node_id_; }
  const net::Endpoint& endpoint() const { return endpoint_; }
  // Requests sent and not yet answered.
  size_t in_flight() const { return pending_.size(); }

 private:
  enum class State { kIdle, kConnecting, kReady, kClosed };
  // One call waiting for its response: the reader stores it and cancels the timer.
  struct Pending {
    explicit Pending(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    std::optional<Result<pb::ClientResponse>> response;
  };

  boost::asio::awaitable<Status> connect(Clock::time_point deadline);
  boost::asio::awaitable<void> read_loop(std::shared_ptr<ClientConnection> keep_alive);
  boost::asio::awaitable<void> write_loop(std::shared_ptr<ClientConnection> keep_alive);
  void wake_ready_waiters();
  // Queues `request` for the writer; what keeps it from being sent otherwise.
  Status send(const pb::ClientRequest& request);
  // Hands `response` to the call or stream waiting for its request_id, if any.
  // `bytes`: the size of the frame it came in.
  void route(pb::ClientResponse response, uint64_t bytes);

  boost::asio::io_context& io_;
  const net::Endpoint endpoint_;
  const ClientOptions options_;
  State state_ = State::kIdle;
  Status closed_why_;
  uint64_t node_id_ = 0;

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;      // until the TCP connection is up...
  std::optional<net::FramedSocket> framed_;  // ...then it moves in here
  std::vector<boost::asio::steady_timer*> ready_waiters_;

  std::string out_;  // encoded request frames the writer has not taken yet
  boost::asio::steady_timer wake_writer_;
  std::unordered_map<uint64_t, Pending*> pending_;  // by request_id
  std::unordered_map<uint64_t, Stream*> streams_;   // by request_id; each removes itself
};

}  // namespace castor::kv
