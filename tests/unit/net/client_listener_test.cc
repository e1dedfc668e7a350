#include "net/client_listener.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <random>

#include "net/hello.h"
#include "tests/unit/net/io_thread.h"

namespace castor::net {
namespace {

namespace asio = boost::asio;

// How many connections `listener` refused for `reason`, read on its io thread.
uint64_t refusals(IoThread& io, const ClientListener& listener, const std::string& reason) {
  return io.call([&] {
    auto it = listener.rejected().find(reason);
    return it == listener.rejected().end() ? uint64_t{0} : it->second;
  });
}

// A client connection to `port` that has sent its Hello and then `requests` (request frames).
std::unique_ptr<asio::ip::tcp::socket> hello_then(asio::io_context& io, uint16_t port,
                                                  const std::vector<std::string>& requests) {
  auto s = std::make_unique<asio::ip::tcp::socket>(io);
  s->connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string wire;
  append_frame(wire, FrameKind::kHello,
               make_hello("castor", 0, pb::Hello::CLIENT, "test").SerializeAsString());
  for (const std::string& r : requests) append_frame(wire, FrameKind::kRequest, r);
  asio::write(*s, asio::buffer(wire));
  return s;
}

// An echo server: each request is answered with its payload reversed.
class ClientListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientListenerOptions o;
    o.node_id = 1;
    o.cluster_id = "castor";
    o.frame_bytes_max = 1024;
    listener_ =
        std::make_unique<ClientListener>(io_.io, o, [](std::string payload, ClientListener::Respond respond) {
          respond(std::string(payload.rbegin(), payload.rend()));
        });
    ep_ = io_.call([&] { return listener_->start(Endpoint{"127.0.0.1", 0}).value(); });
  }
  void TearDown() override {
    io_.stop();
    listener_.reset();
  }

  // A blocking client connection and its frame reader.
  struct Client {
    explicit Client(asio::io_context& io) : sock(io) {}
    asio::ip::tcp::socket sock;
    FrameReader reader{1 << 20};
  };

  // `hello` false skips the handshake.
  Client connect(bool hello, pb::Hello::Role role = pb::Hello::CLIENT,
                 const std::string& cluster = "castor") {
    Client c(client_io_);
    asio::ip::tcp::socket& s = c.sock;
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), ep_.port));
    if (hello) {
      std::string f;
      append_frame(f, FrameKind::kHello, make_hello(cluster, 0, role, "test").SerializeAsString());
      asio::write(s, asio::buffer(f));
    }
    return c;
  }

  // Reads one frame; kUnavailable when the server closed the connection.
  Result<Frame> read(Client& c) {
    FrameReader& r = c.reader;
    asio::ip::tcp::socket& s = c.sock;
    char buf[4096];
    for (;;) {
      auto f = r.next();
      if (!f.is_ok()) return f.status();
      if (f->has_value()) return std::move(**f);
      boost::system::error_code ec;
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) return Status(Code::kUnavailable, ec.message());
      r.feed(buf, n);
    }
  }

  size_t rejected(const std::string& reason) { return refusals(io_, *listener_, reason); }

  IoThread io_;
  asio::io_context client_io_;
  std::unique_ptr<ClientListener> listener_;
  Endpoint ep_;
};

TEST_F(ClientListenerTest, AnswersManyPipelinedRequestsOnOneConnection) {
  auto s = connect(true);
  auto hello = read(s);
  ASSERT_TRUE(hello.is_ok());
  EXPECT_EQ(hello->kind, FrameKind::kHello);
  std::string burst;
  for (int i = 0; i < 200; ++i) append_frame(burst, FrameKind::kRequest, "req" + std::to_string(i));
  asio::write(s.sock, asio::buffer(burst));
  for (int i = 0; i < 200; ++i) {
    auto f = read(s);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    const std::string want = "req" + std::to_string(i);
    EXPECT_EQ(f->payload, std::string(want.rbegin(), want.rend()));
  }
}

// The refused client is told why (a Hello whose `refused` says it), then the connection closes.
TEST_F(ClientListenerTest, RefusesOtherClustersAndPeersOnTheClientPortSayingWhy) {
  for (auto [role, cluster] :
       {std::pair{pb::Hello::CLIENT, "elsewhere"}, std::pair{pb::Hello::PEER, "castor"}}) {
    auto c = connect(true, role, cluster);
    auto f = read(c);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    pb::Hello answer;
    ASSERT_TRUE(answer.ParseFromString(f->payload));
    EXPECT_FALSE(answer.refused().empty());
    EXPECT_FALSE(read(c).is_ok());
  }
  EXPECT_EQ(rejected("refused connection"), 2u);
}

TEST_F(ClientListenerTest, GarbageAndOversizeFramesCloseOnlyThatConnection) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 10; ++i) {
    auto s = connect(i % 2 == 0);
    std::string junk(1 + rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    boost::system::error_code ec;
    asio::write(s.sock, asio::buffer(junk), ec);
  }
  auto big = connect(true);
  ASSERT_TRUE(read(big).is_ok());
  std::string frame;
  append_frame(frame, FrameKind::kRequest, std::string(2000, 'x'));  // over frame_bytes_max
  asio::write(big.sock, asio::buffer(frame));
  EXPECT_FALSE(read(big).is_ok());
  EXPECT_GE(rejected("malformed frame"), 1u);

  auto good = connect(true);
  ASSERT_TRUE(read(good).is_ok());
  std::string req;
  append_frame(req, FrameKind::kRequest, "ab");
  asio::write(good.sock, asio::buffer(req));
  auto f = read(good);
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->payload, "ba");
}

// A client that pipelines requests and never reads the answers: the connection stops reading
// once its queued answers reach the soft bound, so the node computes only a handful of the
// answers, and it is closed as a slow reader when its write is not taken in time.
TEST(ClientListenerBackpressure, AClientThatDoesNotReadIsStoppedThenClosedAndMemoryStaysBounded) {
  IoThread io;
  ClientListenerOptions o;
  o.cluster_id = "castor";
  o.queued_bytes_soft = 2 << 20;
  o.write_timeout = std::chrono::milliseconds(500);
  auto handled = std::make_shared<std::atomic<int>>(0);
  ClientListener listener(io.io, o, [handled](std::string, ClientListener::Respond respond) {
    ++*handled;
    respond(std::string(1 << 20, 'a'));  // a 1 MiB answer, as a Get of a maximal value
  });
  const Endpoint ep = io.call([&] { return listener.start(Endpoint{"127.0.0.1", 0}).value(); });
  asio::io_context client_io;
  auto s = hello_then(client_io, ep.port, std::vector<std::string>(300, "get"));
  const auto slow_readers = [&] { return refusals(io, listener, "slow reader"); };
  ASSERT_TRUE(eventually([&] { return slow_readers() == 1; })) << handled->load() << " requests handled";
  EXPECT_TRUE(eventually([&] { return io.call([&] { return listener.connections(); }) == 0u; }));
  // The kernel's socket buffers take a few answers; the soft bound a couple more. Without
  // backpressure all 300 (300 MiB of answers) were computed and queued.
  EXPECT_LT(handled->load(), 60);
  io.stop();
}

// A client may send its last request and shut down its sending side: it still gets every
// answer it waits for, then the connection closes.
TEST(ClientListenerHalfClose, AClientThatClosedItsSendingSideStillGetsItsAnswers) {
  IoThread io;
  ClientListenerOptions o;
  o.cluster_id = "castor";
  asio::steady_timer later(io.io);
  ClientListener listener(io.io, o, [&later](std::string payload, ClientListener::Respond respond) {
    // Answered after the client's end of stream has arrived, as a write waits for its commit.
    later.expires_after(std::chrono::milliseconds(100));
    later.async_wait([payload, respond](boost::system::error_code) { respond("answer to " + payload); });
  });
  const Endpoint ep = io.call([&] { return listener.start(Endpoint{"127.0.0.1", 0}).value(); });
  asio::io_context client_io;
  auto socket = hello_then(client_io, ep.port, {"put"});
  asio::ip::tcp::socket& s = *socket;
  s.shutdown(asio::ip::tcp::socket::shutdown_send);
  FrameReader reader(1 << 20);
  std::vector<Frame> frames;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    const size_t n = s.read_some(asio::buffer(buf), ec);
    reader.feed(buf, n);
    for (auto f = reader.next(); f.is_ok() && f->has_value(); f = reader.next())
      frames.push_back(std::move(**f));
  }
  EXPECT_EQ(ec, asio::error::eof);
  ASSERT_EQ(frames.size(), 2u);  // the Hello, then the answer
  EXPECT_EQ(frames[1].kind, FrameKind::kResponse);
  EXPECT_EQ(frames[1].payload, "answer to put");
  EXPECT_TRUE(eventually([&] { return io.call([&] { return listener.connections(); }) == 0u; }));
  io.stop();
}

// A request answered many times (a watch): every part arrives in order, the connection is not
// closed as idle while the stream is open however long it is quiet, and once the client
// leaves, the server sees the stream closed.
TEST(ClientListenerStreams, PartsArriveInOrderAndAnOpenStreamIsNeverIdle) {
  IoThread io;
  ClientListenerOptions o;
  o.cluster_id = "castor";
  o.idle_timeout = std::chrono::milliseconds(100);
  asio::steady_timer later(io.io);
  std::optional<ClientListener::Respond> stream;  // io thread only
  bool open_while_quiet = false;
  ClientListener listener(io.io, o, [&](std::string, ClientListener::Respond respond) {
    respond.part("1");
    respond.part("2");
    stream = respond;
    // Quiet for three idle timeouts, then the rest.
    later.expires_after(std::chrono::milliseconds(300));
    later.async_wait([&, respond](boost::system::error_code) {
      open_while_quiet = respond.open() && respond.queued_bytes() == 0;
      respond.part("3");
      respond("end");
    });
  });
  const Endpoint ep = io.call([&] { return listener.start(Endpoint{"127.0.0.1", 0}).value(); });
  asio::io_context client_io;
  auto socket = hello_then(client_io, ep.port, {"watch"});
  FrameReader reader(1 << 20);
  std::vector<std::string> payloads;
  char buf[4096];
  while (payloads.size() < 5) {
    boost::system::error_code ec;
    const size_t n = socket->read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << ec.message() << " after " << payloads.size() << " frames";
    reader.feed(buf, n);
    for (auto f = reader.next(); f.is_ok() && f->has_value(); f = reader.next())
      payloads.push_back((*f)->payload);
  }
  EXPECT_EQ(std::vector<std::string>(payloads.begin() + 1, payloads.end()),
            (std::vector<std::string>{"1", "2", "3", "end"}));
  EXPECT_TRUE(io.call([&] { return open_while_quiet; })) << "open, everything written";
  socket->close();
  EXPECT_TRUE(eventually([&] { return !io.call([&] { return stream->open(); }); }));
  io.stop();
}

// A client that closes its sending side with a stream open can never cancel it: the stream is
// no longer open, and once its holder abandons it the connection closes (before, a quiet watch
// held such a connection, and its place under --watches-max, forever).
TEST(ClientListenerStreams, AHalfClosedClientsStreamIsGoneAndAbandoningItClosesTheConnection) {
  IoThread io;
  ClientListenerOptions o;
  o.cluster_id = "castor";
  std::optional<ClientListener::Respond> stream;  // io thread only
  ClientListener listener(io.io, o, [&](std::string, ClientListener::Respond respond) {
    respond.part("created");
    stream = respond;
  });
  const Endpoint ep = io.call([&] { return listener.start(Endpoint{"127.0.0.1", 0}).value(); });
  asio::io_context client_io;
  auto socket = hello_then(client_io, ep.port, {"watch"});
  ASSERT_TRUE(eventually([&] { return io.call([&] { return stream.has_value(); }); }));
  EXPECT_TRUE(io.call([&] { return stream->open(); }));
  socket->shutdown(asio::ip::tcp::socket::shutdown_send);
  EXPECT_TRUE(eventually([&] { return !io.call([&] { return stream->open(); }); }));
  EXPECT_EQ(io.call([&] { return listener.connections(); }), 1u) << "still waiting for the stream";
  io.call([&] {
    stream->abandon();
    return true;
  });
  EXPECT_TRUE(eventually([&] { return io.call([&] { return listener.connections(); }) == 0u; }));
  io.stop();
}

// A listener whose requests are never answered (so a connection that asked is busy), with
// small limits.
struct SmallListener {
  explicit SmallListener(size_t connections_max, std::chrono::milliseconds idle_timeout) {
    ClientListenerOptions o;
    o.cluster_id = "castor";
    o.connections_max = connections_max;
    o.idle_timeout = idle_timeout;
    listener = std::make_unique<ClientListener>(
        io.io, o,
        [this](std::string, ClientListener::Respond respond) { held.push_back(std::move(respond)); });
    ep = io.call([&] { return listener->start(Endpoint{"127.0.0.1", 0}).value(); });
  }
  ~SmallListener() {
    io.stop();
    listener.reset();
  }
  // A client connection that said Hello and read the answer; `busy` also leaves a request open.
  std::unique_ptr<asio::ip::tcp::socket> client(bool busy, pb::Hello* answer = nullptr) {
    auto s = hello_then(client_io, ep.port,
                        busy ? std::vector<std::string>{"never answered"} : std::vector<std::string>{});
    FrameReader reader(1 << 20);
    char buf[4096];
    for (;;) {
      auto f = reader.next();
      if (f.is_ok() && f->has_value()) {
        if (answer != nullptr) answer->ParseFromString((*f)->payload);
        break;
      }
      boost::system::error_code ec;
      const size_t n = s->read_some(asio::buffer(buf), ec);
      if (ec) break;
      reader.feed(buf, n);
    }
    return s;
  }
  // Whether the node closes `s` within 5 s (a read returns end of stream).
  static bool closed(asio::ip::tcp::socket& s) {
    pollfd p{s.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char c;
    boost::system::error_code ec;
    s.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof;
  }
  size_t count(const std::string& reason) { return refusals(io, *listener, reason); }

  IoThread io;
  asio::io_context client_io;
  std::unique_ptr<ClientListener> listener;
  Endpoint ep;
  std::vector<ClientListener::Respond> held;  // io thread only
};

TEST(ClientListenerLimits, AConnectionWithNothingAskedIsClosedAfterTheIdleTimeout) {
  SmallListener l(16, std::chrono::milliseconds(200));
  auto idle = l.client(false);
  auto busy = l.client(true);
  EXPECT_TRUE(SmallListener::closed(*idle));
  EXPECT_EQ(l.count("idle"), 1u);
  EXPECT_EQ(l.io.call([&] { return l.listener->connections(); }), 1u) << "the busy connection stays";
}

// 4,096 idle connections used to lock every client out: a new one takes the idlest one's slot.
TEST(ClientListenerLimits, AtTheLimitANewConnectionTakesTheSlotOfTheIdlestOne) {
  SmallListener l(2, std::chrono::hours(1));
  auto first = l.client(false);
  auto second = l.client(false);
  pb::Hello answer;
  auto third = l.client(false, &answer);
  EXPECT_TRUE(answer.refused().empty());
  EXPECT_TRUE(SmallListener::closed(*first));
  EXPECT_EQ(l.count("idle evicted"), 1u);
}

TEST(ClientListenerLimits, AtTheLimitWithNoneIdleTheNewConnectionIsToldWhy) {
  SmallListener l(2, std::chrono::hours(1));
  auto first = l.client(true);
  auto second = l.client(true);
  pb::Hello answer;
  auto third = l.client(false, &answer);
  EXPECT_NE(answer.refused().find("too many client connections (2, none idle)"), std::string::npos)
      << answer.ShortDebugString();
  EXPECT_TRUE(SmallListener::closed(*third));
  EXPECT_EQ(l.count("too many connections"), 1u);
}

}  // namespace
}  // namespace castor::net
