#include "net/peer_transport.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <random>

#include "net/hello.h"
#include "tests/unit/net/io_thread.h"

namespace castor::net {
namespace {

namespace asio = boost::asio;

// Three transports on loopback in one io thread, recording what each receives.
class PeerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t id = 1; id <= 3; ++id) make(id, "castor");
  }
  void TearDown() override {
    io_.stop();
    transports_.clear();
  }

  void make(uint64_t id, const std::string& cluster, size_t queue_messages_max = 4096) {
    PeerTransportOptions o;
    o.node_id = id;
    o.node_name = "n" + std::to_string(id);
    o.cluster_id = cluster;
    o.queue_messages_max = queue_messages_max;
    o.backoff_max = std::chrono::milliseconds(200);
    transports_[id] = std::make_unique<PeerTransport>(io_.io, o, [this, id](raft::pb::Message m) {
      std::lock_guard lock(mu_);
      received_[id].push_back(std::move(m));
    });
  }

  // Starts every transport on a free port and tells each the others' addresses.
  void start_all() {
    std::map<uint64_t, Endpoint> listen;
    io_.call([&] {
      for (auto& [id, t] : transports_) {
        // Bind first (port 0), then learn the port: add_peer must precede start, so bind a
        // throwaway acceptor to find free ports.
        asio::ip::tcp::acceptor probe(io_.io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        listen[id] = Endpoint{"127.0.0.1", probe.local_endpoint().port()};
      }
      for (auto& [id, t] : transports_) {
        for (auto& [peer, ep] : listen) {
          if (peer != id) t->add_peer(peer, ep);
        }
      }
      for (auto& [id, t] : transports_) {
        auto r = t->start(listen[id]);
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      }
      return 0;
    });
    endpoints_ = listen;
  }

  void send(uint64_t from, uint64_t to, uint64_t index) {
    io_.call([&] {
      raft::pb::Message m;
      m.set_type(raft::pb::MSG_APP);
      m.set_from(from);
      m.set_to(to);
      m.set_index(index);
      transports_[from]->send(m);
      return 0;
    });
  }

  size_t count(uint64_t at) {
    std::lock_guard lock(mu_);
    return received_[at].size();
  }

  IoThread io_;
  std::map<uint64_t, std::unique_ptr<PeerTransport>> transports_;
  std::map<uint64_t, Endpoint> endpoints_;
  std::mutex mu_;
  std::map<uint64_t, std::vector<raft::pb::Message>> received_;
};

TEST_F(PeerTransportTest, DeliversMessagesBetweenEveryPairInOrder) {
  start_all();
  // Sent before or after the connections are up, every message fits in the queues.
  for (uint64_t i = 1; i <= 100; ++i) {
    send(1, 2, i);
    send(2, 3, i);
    send(3, 1, i);
  }
  ASSERT_TRUE(eventually([&] { return count(1) == 100 && count(2) == 100 && count(3) == 100; }));
  std::lock_guard lock(mu_);
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(received_[2][i].index(), i + 1);
  EXPECT_EQ(received_[2][0].from(), 1u);
}

TEST_F(PeerTransportTest, RefusesANodeOfAnotherCluster) {
  make(3, "other-cluster");  // node 3 believes it is in another cluster
  start_all();
  for (uint64_t i = 1; i <= 5; ++i) send(3, 1, i);
  ASSERT_TRUE(eventually([&] {
    return io_.call([&] { return transports_[1]->rejected().count("refused connection") > 0; });
  }));
  send(2, 1, 1);
  ASSERT_TRUE(eventually([&] { return count(1) == 1; }));
  EXPECT_EQ(received_[1][0].from(), 2u);  // nothing from node 3 got through
}

TEST_F(PeerTransportTest, GarbageOnThePeerPortChangesNothing) {
  start_all();
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    asio::io_context client;
    asio::ip::tcp::socket s(client);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), endpoints_[1].port));
    std::string junk(1 + rng() % 512, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0) {
      // A valid Hello first, then garbage: the frame layer must catch it.
      std::string hello;
      append_frame(hello, FrameKind::kHello, make_hello("castor", 2, pb::Hello::PEER, "x").SerializeAsString());
      junk = hello + junk;
    }
    boost::system::error_code ec;
    asio::write(s, asio::buffer(junk), ec);
  }
  send(2, 1, 7);
  ASSERT_TRUE(eventually([&] { return count(1) >= 1; }));
  std::lock_guard lock(mu_);
  for (const auto& m : received_[1]) EXPECT_EQ(m.from(), 2u) << "a forged message got through";
}

TEST_F(PeerTransportTest, AFullQueueDropsAndCountsInsteadOfGrowing) {
  // Only node 1 runs; its peers never answer, so its queues fill.
  make(1, "castor", 16);
  io_.call([&] {
    transports_[1]->add_peer(2, Endpoint{"127.0.0.1", 1});  // nothing listens on port 1
    auto r = transports_[1]->start(Endpoint{"127.0.0.1", 0});
    EXPECT_TRUE(r.is_ok());
    return 0;
  });
  for (uint64_t i = 0; i < 100; ++i) send(1, 2, i);
  PeerStats s = io_.call([&] { return transports_[1]->stats(2); });
  EXPECT_EQ(s.queue_depth, 16u);
  EXPECT_EQ(s.dropped, 84u);
  EXPECT_FALSE(s.connected);
}

TEST_F(PeerTransportTest, KeepsRetryingUntilAPeerStartsThenDelivers) {
  // Node 1 starts first; node 2's address is known but nothing listens there yet.
  Endpoint ep1, ep2;
  io_.call([&] {
    for (Endpoint* ep : {&ep1, &ep2}) {
      asio::ip::tcp::acceptor probe(io_.io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      *ep = Endpoint{"127.0.0.1", probe.local_endpoint().port()};
    }
    transports_[1]->add_peer(2, ep2);
    transports_[2]->add_peer(1, ep1);
    EXPECT_TRUE(transports_[1]->start(ep1).is_ok());
    return 0;
  });
  send(1, 2, 1);  // queued while node 2 is down
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let a few connects fail
  io_.call([&] {
    EXPECT_TRUE(transports_[2]->start(ep2).is_ok());
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return count(2) == 1; }));
}

}  // namespace
}  // namespace castor::net
