// FramedSocket::read_frame_within: a frame that arrives in the same reactor pass as the timer's
// expiry must not leave a socket that read OK but was closed behind the reader's back.
#include "net/framed_socket.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <thread>

#include "tests/unit/net/io_thread.h"

namespace castor::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;

// GCC 12 reports -Wmismatched-new-delete for coroutines: a false positive in Boost's headers
// (see net/http_server.cc, read_loop), silenced for this definition only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
asio::awaitable<void> read_within(std::shared_ptr<FramedSocket> socket, milliseconds timeout,
                                  std::shared_ptr<std::optional<Result<Frame>>> out) {
  out->emplace(co_await socket->read_frame_within(timeout));
}
#pragma GCC diagnostic pop

// A connected pair: `server` wrapped for the io thread, `client` used synchronously here.
struct Pair {
  explicit Pair(asio::io_context& io) : client(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    server = std::make_shared<FramedSocket>(acceptor.accept(), kFrameBytesMaxDefault);
  }
  tcp::socket client;
  std::shared_ptr<FramedSocket> server;
};

// One try of the race: the result must be "read, socket open" or "timed out, socket closed".
void race_once() {
  IoThread io;
  Pair pair(io.io);
  auto result = std::make_shared<std::optional<Result<Frame>>>();
  asio::co_spawn(io.io, read_within(pair.server, milliseconds(50), result), asio::detached);
  // Block the io thread past the timeout while the frame arrives: its next reactor pass then
  // finds the socket readable and the timer expired at once.
  asio::post(io.io, [] { std::this_thread::sleep_for(milliseconds(200)); });
  std::string wire;
  append_frame(wire, FrameKind::kPing, "x");
  asio::write(pair.client, asio::buffer(wire));
  ASSERT_TRUE(eventually([&] { return io.call([&] { return result->has_value(); }); }));
  const bool read_ok = io.call([&] { return (*result)->is_ok(); });
  const bool open = io.call([&] { return pair.server->socket().is_open(); });
  if (read_ok) {
    EXPECT_TRUE(open) << "the frame was read, then the expired timer closed the socket";
  } else {
    EXPECT_FALSE(open);
    EXPECT_NE(io.call([&] { return (*result)->status().message(); }).find("no complete frame within 50 ms"),
              std::string::npos);
  }
}

// Which handler the reactor runs first is not fixed, and the old code failed in about two
// tries of three; five tries make a miss unlikely (about 1 in 250).
TEST(FramedSocket, AFrameReadInTheSamePassAsTheTimeoutLeavesTheSocketOpenOrReportsTheTimeout) {
  for (int i = 0; i < 5 && !HasFailure(); ++i) race_once();
}

TEST(FramedSocket, ASilentPeerIsClosedWithANamedTimeout) {
  IoThread io;
  Pair pair(io.io);
  auto result = std::make_shared<std::optional<Result<Frame>>>();
  asio::co_spawn(io.io, read_within(pair.server, milliseconds(20), result), asio::detached);
  ASSERT_TRUE(eventually([&] { return io.call([&] { return result->has_value(); }); }));
  const Status s = io.call([&] { return (*result)->status(); });
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message(), "no complete frame within 20 ms");
  EXPECT_FALSE(io.call([&] { return pair.server->socket().is_open(); }));
}

TEST(FramedSocket, AFrameInTimeIsReadAndTheSocketStaysOpen) {
  IoThread io;
  Pair pair(io.io);
  auto result = std::make_shared<std::optional<Result<Frame>>>();
  std::string wire;
  append_frame(wire, FrameKind::kPing, "x");
  asio::write(pair.client, asio::buffer(wire));
  asio::co_spawn(io.io, read_within(pair.server, milliseconds(5000), result), asio::detached);
  ASSERT_TRUE(eventually([&] { return io.call([&] { return result->has_value(); }); }));
  ASSERT_TRUE(io.call([&] { return (*result)->is_ok(); }));
  EXPECT_EQ(io.call([&] { return (**result)->payload; }), "x");
  EXPECT_TRUE(io.call([&] { return pair.server->socket().is_open(); }));
}

}  // namespace
}  // namespace castor::net
