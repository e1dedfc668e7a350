// FramedSocket: a TCP socket that reads and writes whole frames (frame.h), for coroutines.
//
// What it does NOT do: parse the payloads (protobuf, the caller's) or time out by itself (the
// listeners and the transport put deadlines around its calls).
// Not thread-safe: use it from one strand. At most one read and one write in flight at a time.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>, so <utility> must
// come first; the guard keeps clang-format's include sorting from moving it.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "net/frame.h"

namespace castor::net {

// read_frame()'s message when the peer closed its side of the connection (end of stream): the
// peer may still be reading, so answers it waits for can still be sent.
inline constexpr std::string_view kPeerClosed = "connection closed";

class FramedSocket {
 public:
  FramedSocket(boost::asio::ip::tcp::socket socket, uint32_t frame_bytes_max)
      : socket_(std::move(socket)), reader_(frame_bytes_max) {}

  // The next frame. kUnavailable when the connection closed or failed; kTooLarge or
  // kInvalidArgument when the peer sent a malformed stream.
  boost::asio::awaitable<Result<Frame>> read_frame();
  // Writes `bytes` (one or more encoded frames) in full. kUnavailable on failure.
  boost::asio::awaitable<Status> write(const std::string& bytes);
  // The same, closing the socket if the read takes longer than `timeout` (for handshakes, so
  // a silent connection cannot hold a slot forever). OK always comes with the socket open; a
  // timeout is kUnavailable "no complete frame within N ms", with the socket closed.
  boost::asio::awaitable<Result<Frame>> read_frame_within(std::chrono::milliseconds timeout);
  // write() that closes the socket if the peer has not taken all of `bytes` within `timeout`
  // (a client that stopped reading). The same contract as read_frame_within.
  boost::asio::awaitable<Status> write_within(const std::string& bytes, std::chrono::milliseconds timeout);

  void close();
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  std::string remote() const;

 private:
  class Deadline;

  boost::asio::ip::tcp::socket socket_;
  FrameReader reader_;
  char buf_[64 * 1024];
};

}  // namespace castor::net
