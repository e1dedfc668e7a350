// ClientListener: accepts client connections and hands each request to the server.
//
// A client connects, sends a client Hello of this cluster, gets the node's Hello back, then
// sends request frames and reads response frames. Many requests may be in flight on one
// connection (pipelining); responses go back in the order the server produces them, matched
// to requests by an id inside the payload, which this class does not read. Each connection has
// at most `in_flight_max` unanswered requests, and stops reading while its queued answers
// reach `queued_bytes_soft` (backpressure): a client that does not read its answers cannot grow
// the node's memory. Past `queued_bytes_max`, or when a write is not taken within
// `write_timeout`, the connection is closed ("slow reader"). A connection with nothing in flight
// for `idle_timeout` is closed ("idle"). At `connections_max` a new connection takes the place
// of the one idle longest, so an operator's castorctl still gets in while idle clients hold
// every slot; when none is idle it is turned away. A client turned away (at capacity, another
// cluster, a peer on the client port) is told why in a Hello whose `refused` says it. Out of
// file descriptors, it accepts again only every 100 ms (net/accept_error.h).
// Malformed input closes that connection with a rate-limited log line and nothing else.
//
// Streams: a request may be answered many times (a watch): Respond::part() sends an answer and
// keeps the request in flight, the final call ends it. A connection with an open stream is
// never idle; its reader learns how much waits unread (queued_bytes()) to stop a stream whose
// client does not read before the connection is cut off. A client that closes its sending side
// (FIN) gets the answers to its one-answer requests, but its streams are taken for gone (it can
// no longer cancel them): open() turns false, and the stream's holder ends it with abandon()
// (or a last answer), so the connection closes once the rest is answered.
//
// What it does NOT do: parse requests, enforce deadlines (the server does), or retry.
// Threading: every method and callback runs on the io_context's single thread.
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
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "net/endpoint.h"
#include "net/framed_socket.h"
#include "net/rate_limited_log.h"

namespace castor::net {

struct ClientListenerOptions {
  uint64_t node_id = 0;
  std::string node_name;
  std::string cluster_id;
  uint32_t frame_bytes_max = kFrameBytesMaxDefault;
  size_t connections_max = 4096;
  size_t in_flight_max = 4096;  // unanswered requests per connection
  size_t queued_bytes_soft = 4 << 20;
  size_t queued_bytes_max = 64 << 20;
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds handshake_timeout{5000};
};

class ClientListener {
 private:
  struct Conn;

 public:
  // The way back to one request's client. Copyable; safe to use after the connection closed
  // (answers are then dropped).
  class Respond {
   public:
    // The request's answer (the last one, for a stream). Once per request: a second is a bug.
    void operator()(std::string payload) const { send(std::move(payload), true); }
    // One answer of a request answered many times; the request stays in flight.
    void part(std::string payload) const { send(std::move(payload), false); }
    // Bytes of answers queued on the connection, not yet written to the client; 0 once closed.
    uint64_t queued_bytes() const;
    // False once the connection closed or the client closed its sending side.
    bool open() const;
    // Ends a stream without a last answer (its client is gone), so the connection no longer
    // waits for it. Instead of operator(), once.
    void abandon() const;
    // The same for every request of one connection.
    const void* connection() const { return id_; }

   private:
    friend class ClientListener;
    Respond(ClientListener* listener, const std::shared_ptr<Conn>& conn)
        : listener_(listener), conn_(conn), id_(conn.get()) {}
    void send(std::string payload, bool last) const;

    ClientListener* listener_;
    std::weak_ptr<Conn> conn_;
    const void* id_;
  };
  using OnRequest = std::function<void(std::string payload, Respond respond)>;

  ClientListener(boost::asio::io_context& io, ClientListenerOptions options, OnRequest on_request);
  ~ClientListener();

  // Binds (port 0 picks a free one) and starts accepting. kUnavailable names the address.
  Result<Endpoint> start(const Endpoint& listen);
  void stop();

  size_t connections() const { return conns_.size(); }
  const std::map<std::string, uint64_t>& rejected() const { return rejected_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<bool> handshake(std::shared_ptr<Conn> conn);
  boost::asio::awaitable<void> read_requests(std::shared_ptr<Conn> conn);
  void queue_answer(const std::weak_ptr<Conn>& conn, std::string payload, bool last);
  void end_unanswered(const std::weak_ptr<Conn>& conn);
  boost::asio::awaitable<void> write_loop(std::shared_ptr<Conn> conn);
  boost::asio::awaitable<void> finish_half_closed(std::shared_ptr<Conn> conn);
  // Sends a Hello saying why the connection is turned away, then closes it.
  boost::asio::awaitable<void> refuse(std::shared_ptr<Conn> conn, std::string why);
  // Every so often, closes connections idle for idle_timeout and those whose client has not
  // taken a write for write_timeout.
  boost::asio::awaitable<void> watchdog_loop();
  // The connection with nothing in flight that was active longest ago, or nullptr.
  Conn* idlest() const;
  void reject(const std::string& reason, const std::string& detail);

  boost::asio::io_context& io_;
  ClientListenerOptions opt_;
  OnRequest on_request_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::map<Conn*, std::shared_ptr<Conn>> conns_;
  std::map<std::string, uint64_t> rejected_;
  RateLimitedLog log_;
  bool stopped_ = false;
};

}  // namespace castor::net
