// HttpServer: an HTTP/1.1 server (Boost.Beast) for metrics, health, status and the JSON KV API.
//
// Each request is parsed, checked against the size limits and handed to the handler with a
// Respond callback; the handler may answer at once or later (after a Raft commit). Keep-alive
// connections may pipeline requests: responses go back in request order, whatever order the
// handler answers in, and each connection has at most `in_flight_max` unanswered requests
// (beyond that it stops reading: backpressure). Input the server cannot accept is answered by
// the server itself with a JSON error body {"code":"...","message":"..."} (codes of
// raft/base/status.h) and closes that connection only:
//   malformed HTTP (Beast's parser; versions other than 1.0 and 1.1 included) or a bad request
//   target -> 400, header over header_bytes_max -> 431,
//   body over body_bytes_max -> 413, a request that stalls mid-way past read_timeout -> 408,
//   a connection over connections_max -> 503 (before reading anything); out of file
//   descriptors, no answer: it accepts again only every 100 ms (net/accept_error.h);
//   in a chunked body, a chunk-size line (extensions included) over header_bytes_max -> 413,
//   a trailer section over header_bytes_max -> 431 (the server never holds more than
//   header_bytes_max of unparsed input per connection);
//   both Content-Length and Transfer-Encoding, Transfer-Encoding in HTTP/1.0, or a last
//   transfer coding other than a single chunked -> 400 (RFC 9112 section 6.3: the body's end
//   is ambiguous, and guessing it lets a body pass as the next request); another coding before
//   chunked (gzip, ...) -> 501, as only chunked is implemented.
// Each is counted in rejected() by reason and logged at a limited rate. An exception thrown
// while a connection is served (by Beast's parser, the handler or a write) ends that
// connection only, without an answer, and is counted and logged as "exception".
//
// Streamed answers (HttpRespond::start, part, end): the head goes out when the answer's turn
// comes, each part as a chunk (HTTP/1.0: raw, and the connection closes at the end); requests
// pipelined behind a stream are answered after it ends. A client that closes its side ends
// the stream and the connection (open() turns false). Write timeouts apply per write; a stream
// waiting for its next part is not timed out.
//
// What it does NOT do: route, check methods (the handler decides 404 and 405), TLS,
// compression, or HTTP/2. Responses to HEAD carry the Content-Length of the body the handler
// returns, without the body; a streamed answer to HEAD sends its head and ends.
// Threading: every method and the handler run on the io_context's single thread. Respond may
// be called from any thread (it hops to the io thread), but not after the io_context is gone.
// Destroy the server only after its io_context has stopped running (its coroutines refer to it).
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "net/http_respond.h"
#include "net/rate_limited_log.h"

namespace castor::net {

struct HttpRequest {
  std::string method;  // as sent: "GET", "PUT", ... (the handler decides which it supports)
  std::string target;  // the raw request-target: "/v1/kv/a%2Fb?cas=5"
  std::string path;    // percent-decoded, without the query: "/v1/kv/a/b"
  // Percent-decoded query parameters ('+' is a space). A flag such as "?prefix" maps to "".
  // When a name repeats, the first value wins.
  std::map<std::string, std::string> query;
  // Header names lower-cased; repeated headers joined with ", " (RFC 9110 section 5.3).
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote;  // "ip:port" of the client, for logs
  bool has_query(const std::string& name) const { return query.count(name) != 0; }
};

struct HttpServerOptions {
  size_t body_bytes_max = 1536 * 1024;  // 1.5 MiB: a 1 MiB value plus JSON and base64 overhead
  uint32_t header_bytes_max = 8192;     // request line and headers together
  size_t connections_max = 1024;
  size_t in_flight_max = 16;  // unanswered requests per connection
  // The longest a request may take to arrive once its first byte has, and the longest an idle
  // keep-alive connection is kept; a connection with unanswered requests is never idle.
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};  // per response, against clients that stop reading
};

class HttpServer {
 public:
  // Answers one request (net/http_respond.h): whole or streamed, exactly once. Safe to use
  // after the connection closed (the answer is dropped). A handler that never answers leaves
  // that connection waiting.
  using Respond = HttpRespond;
  using Handler = std::function<void(HttpRequest request, Respond respond)>;

  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (port 0 picks a free one) and starts accepting. kUnavailable names the address.
  Result<Endpoint> start(const Endpoint& listen);
  // Stops accepting and closes every connection; answers still to come are dropped.
  void stop();

  size_t connections() const { return conns_.size(); }
  // Rejected requests and connections by reason: "malformed request", "header too large",
  // "body too large", "trailer too large", "chunk extension too large", "content-length with
  // transfer-encoding", "bad transfer-encoding", "unsupported transfer-encoding",
  // "read timeout", "write timeout", "too many connections", "exception".
  const std::map<std::string, uint64_t>& rejected() const { return rejected_; }

 private:
  struct Conn;
  class ConnResponder;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> read_loop(std::shared_ptr<Conn> conn);
  boost::asio::awaitable<void> write_loop(std::shared_ptr<Conn> conn);
  // Writes what is due of the streamed answer at the front of `conn`: its head, the parts
  // queued, or its last chunk; true once the answer is complete.
  boost::asio::awaitable<bool> write_stream(Conn& conn, boost::system::error_code& ec);
  void arm_read_timer(const std::shared_ptr<Conn>& conn);
  // Counts, logs and closes a connection whose coroutine threw.
  void end_on_exception(const std::shared_ptr<Conn>& conn, const std::exception_ptr& e);
  // Queues a response of the server's own (an error) and stops reading that connection.
  void refuse(Conn& conn, int status, const std::string& reason, const std::string& detail);
  void reject(const std::string& reason, const std::string& detail);

  boost::asio::io_context& io_;
  HttpServerOptions opt_;
  Handler handler_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::map<Conn*, std::shared_ptr<Conn>> conns_;
  std::map<std::string, uint64_t> rejected_;
  RateLimitedLog log_;
  bool stopped_ = false;
};

}  // namespace castor::net
