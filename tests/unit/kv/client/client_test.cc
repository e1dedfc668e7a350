#include "kv/client/client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <map>
#include <random>

#include "kv/client/blocking_client.h"
#include "tests/unit/kv/client/fake_cluster.h"

namespace castor::kv {
namespace {

namespace asio = boost::asio;
using net::eventually;
using RC = pb::ClientRequest::RequestCase;

class ClientTest : public ::testing::Test {
 protected:
  // A cluster of nodes with these Raft ids, in endpoint order, and a client of it.
  void start(std::vector<uint64_t> ids, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    cluster_ = std::make_unique<FakeCluster>(io_, std::move(ids));
    options_.endpoints = cluster_->endpoints();
    options_.request_timeout = timeout;
    client_ = std::make_unique<Client>(io_.io, options_);
  }
  void TearDown() override {
    io_.stop();
    client_.reset();
    cluster_.reset();
  }
  FakeNode& node(size_t i) { return cluster_->node(i); }

  // Every node answers like a cluster whose leader has Raft id `leader`: the leader answers
  // everything OK (registrations with client id 1), the others say NOT_LEADER naming it.
  void lead(uint64_t leader) {
    for (size_t i = 0; i < options_.endpoints.size(); ++i) {
      node(i).script = [leader](FakeNode& self, const pb::ClientRequest& req,
                                ClientListener::Respond respond) {
        if (self.id == leader) return reply(respond, ok_answer(req, self));
        reply(respond, answer(req, Code::kNotLeader, self, leader));
      };
    }
  }

  // The writes node i saw, and the (client_id, seq) of each.
  std::vector<std::pair<uint64_t, uint64_t>> writes_at(size_t i) {
    return io_.call([&] {
      std::vector<std::pair<uint64_t, uint64_t>> out;
      for (const auto& r : node(i).seen) {
        if (r.has_write()) out.emplace_back(r.write().client_id(), r.write().seq());
      }
      return out;
    });
  }

  net::IoThread io_;
  ClientOptions options_;
  std::unique_ptr<FakeCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, Redirect_NotLeaderHintGoesToTheEndpointWhoseHelloHadThatId) {
  // Endpoint order is not id order: the client must map ids through the nodes' Hellos.
  start({3, 1, 2});
  lead(2);
  auto first = run_on(io_, [&] { return client_->get("k"); }).get();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first.value().kv().value(), "k");
  // Id 2 was not met yet, so the client searched the endpoints it had not connected to.
  EXPECT_EQ(client_->leader_endpoint(), std::optional<size_t>(2));

  // Leadership moves to id 1 (endpoint 1, met above): the hint leads straight there.
  const size_t seen_at_0 = io_.call([&] { return node(0).seen.size(); });
  lead(1);
  auto second = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(io_.call([&] { return node(0).seen.size(); }), seen_at_0);
  EXPECT_EQ(client_->leader_endpoint(), std::optional<size_t>(1));
}

TEST_F(ClientTest, Write_RetriedWithTheSameSeqAfterTheLeadersConnectionDrops) {
  start({1, 2, 3});
  lead(1);
  // The leader takes the write and dies before answering; node 2 takes over.
  node(0).script = [this](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (req.has_write()) {
      for (size_t i = 1; i < 3; ++i) {
        node(i).script = [](FakeNode& s, const pb::ClientRequest& r, ClientListener::Respond resp) {
          if (s.id == 2) return reply(resp, ok_answer(r, s));
          reply(resp, answer(r, Code::kNotLeader, s, 2));
        };
      }
      return cluster_->kill(0);
    }
    reply(respond, ok_answer(req, self, 77));
  };
  auto o = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  const auto first = writes_at(0);
  const auto retry = writes_at(1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(first[0], std::make_pair(uint64_t{77}, uint64_t{1}));
  EXPECT_EQ(retry[0], first[0]);
}

TEST_F(ClientTest, Write_UnknownWhenTheDeadlinePassesAfterAConnectionDrop) {
  start({1, 2, 3}, std::chrono::milliseconds(400));
  node(0).script = [this](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (req.has_write()) return cluster_->kill(0);
    reply(respond, ok_answer(req, self));
  };
  for (size_t i = 1; i < 3; ++i) {
    node(i).script = [](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
      reply(respond, answer(req, Code::kUnavailable, self, 0));
    };
  }
  auto o = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  EXPECT_TRUE(o.is_unknown()) << o.status().to_string();
  // It kept retrying the same seq at the other nodes until the deadline.
  const auto retries = writes_at(1);
  ASSERT_FALSE(retries.empty());
  for (const auto& w : retries) EXPECT_EQ(w.second, 1u);
}

TEST_F(ClientTest, Write_UnknownWhenTheLeaderNeverAnswers) {
  start({1}, std::chrono::milliseconds(300));
  std::vector<ClientListener::Respond> kept;  // never called: the leader went silent
  node(0).script = [&kept](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (req.has_write()) return kept.push_back(std::move(respond));
    reply(respond, ok_answer(req, self));
  };
  auto o = run_on(io_, [&] { return client_->del("k"); }).get();
  EXPECT_TRUE(o.is_unknown()) << o.status().to_string();
}

TEST_F(ClientTest, Write_FailedWhenEveryNodeSaysUnavailableUntilTheDeadline) {
  start({1, 2, 3}, std::chrono::milliseconds(300));
  for (size_t i = 0; i < 3; ++i) {
    node(i).script = [](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
      if (req.has_register_client() && self.id == 1) return reply(respond, ok_answer(req, self));
      reply(respond, answer(req, Code::kUnavailable, self, 0));
    };
  }
  auto o = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  ASSERT_TRUE(o.is_failed()) << o.status().to_string();
  EXPECT_EQ(o.status().code(), Code::kUnavailable);
  size_t attempts = 0;
  for (size_t i = 0; i < 3; ++i) attempts += writes_at(i).size();
  EXPECT_GT(attempts, 3u);
}

TEST_F(ClientTest, Write_SessionExpiredOnARetryAfterAMaybeAppliedAttemptIsUnknown) {
  start({1, 2});
  node(0).script = [this](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (req.has_write()) return cluster_->kill(0);
    reply(respond, ok_answer(req, self));
  };
  node(1).script = [](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    reply(respond, answer(req, Code::kSessionExpired, self, 2));
  };
  auto o = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  EXPECT_TRUE(o.is_unknown()) << o.status().to_string();
  // Registering again and sending a new seq could apply the write twice: the client did not.
  EXPECT_EQ(io_.call([&] { return node(1).count(RC::kRegisterClient); }), 0u);
  EXPECT_EQ(writes_at(1).size(), 1u);
}

TEST_F(ClientTest, Write_SessionExpiredOnTheFirstAttemptRegistersAgainUnderANewSeq) {
  start({1});
  uint64_t next_client = 10;
  node(0).script = [&next_client](FakeNode& self, const pb::ClientRequest& req,
                                  ClientListener::Respond respond) {
    if (req.has_register_client()) return reply(respond, ok_answer(req, self, next_client++));
    if (req.write().client_id() == 10) return reply(respond, answer(req, Code::kSessionExpired, self, 1));
    reply(respond, ok_answer(req, self));
  };
  auto o = run_on(io_, [&] { return client_->put("k", "v"); }).get();
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(writes_at(0), (std::vector<std::pair<uint64_t, uint64_t>>{{10, 1}, {11, 1}}));
}

TEST_F(ClientTest, Read_FailedNotUnknownWhenNoNodeAnswers) {
  start({1}, std::chrono::milliseconds(300));
  node(0).script = [this](FakeNode&, const pb::ClientRequest&, ClientListener::Respond) {
    cluster_->kill(0);
  };
  auto o = run_on(io_, [&] { return client_->get("k"); }).get();
  ASSERT_TRUE(o.is_failed()) << o.status().to_string();
  EXPECT_EQ(o.status().code(), Code::kUnavailable);
}

TEST_F(ClientTest, Read_SerializableIsMarkedAndNeedsNoSession) {
  start({1});
  lead(1);
  auto o = run_on(io_, [&] { return client_->get("k", ReadOptions{true}); }).get();
  ASSERT_TRUE(o.is_ok());
  io_.call([&] {
    EXPECT_EQ(node(0).count(RC::kRegisterClient), 0u);
    EXPECT_TRUE(node(0).seen.back().get().serializable());
    return 0;
  });
}

TEST_F(ClientTest, Pipelining_AThousandConcurrentGetsOnOneConnectionAllAnswered) {
  start({1});
  options_.attempt_timeout = std::chrono::milliseconds(10000);
  client_ = std::make_unique<Client>(io_.io, options_);
  constexpr size_t kCalls = 1000;
  // The node answers only once all of them are in flight, in a shuffled order.
  std::vector<std::pair<pb::ClientRequest, ClientListener::Respond>> held;
  node(0).script = [&held](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    held.emplace_back(req, std::move(respond));
    if (held.size() < kCalls) return;
    std::shuffle(held.begin(), held.end(), std::mt19937(7));
    for (auto& [r, resp] : held) reply(resp, ok_answer(r, self));
  };
  std::vector<std::string> values(kCalls);
  auto done = std::make_shared<std::promise<void>>();
  size_t finished = 0;
  io_.call([&] {
    for (size_t i = 0; i < kCalls; ++i) {
      asio::co_spawn(
          io_.io,
          [&, i]() -> asio::awaitable<void> {
            auto o = co_await client_->get("key-" + std::to_string(i));
            if (o.is_ok()) values[i] = o.value().kv().value();
            if (++finished == kCalls) done->set_value();
          },
          asio::detached);
    }
    return 0;
  });
  done->get_future().get();
  for (size_t i = 0; i < kCalls; ++i) EXPECT_EQ(values[i], "key-" + std::to_string(i));
  EXPECT_EQ(io_.call([&] { return node(0).listener->connections(); }), 1u);
}

// Writes whose answers the node holds until the test releases them, by seq.
struct HeldWrites {
  std::map<uint64_t, std::pair<pb::ClientRequest, ClientListener::Respond>> by_seq;
  std::vector<pb::WriteRequest> arrived;
};

TEST_F(ClientTest, Session_LowestOutstandingSeqIsTheOldestUnansweredWrite) {
  start({1});
  HeldWrites held;
  node(0).script = [&held](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (!req.has_write()) return reply(respond, ok_answer(req, self));
    held.arrived.push_back(req.write());
    held.by_seq.emplace(req.write().seq(), std::make_pair(req, std::move(respond)));
  };
  auto release = [&](uint64_t seq) {
    io_.call([&] {
      auto it = held.by_seq.find(seq);
      reply(it->second.second, ok_answer(it->second.first, node(0)));
      held.by_seq.erase(it);
      return 0;
    });
  };
  auto arrived = [&] { return io_.call([&] { return held.arrived.size(); }); };
  auto lowest_of_last = [&] {
    return io_.call([&] { return held.arrived.back().lowest_outstanding_seq(); });
  };

  std::vector<std::future<Outcome<pb::PutResponse>>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(run_on(io_, [&] { return client_->put("k", "v"); }));
  ASSERT_TRUE(eventually([&] { return arrived() == 3; }));
  io_.call([&] {
    for (const auto& w : held.arrived) EXPECT_EQ(w.lowest_outstanding_seq(), 1u);
    return 0;
  });
  // How many calls have their outcome: the client has taken in the answers released so far.
  auto answered = [&] {
    return std::count_if(calls.begin(), calls.end(), [](const auto& c) {
      return c.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
  };
  release(1);
  release(3);
  ASSERT_TRUE(eventually([&] { return answered() == 2; }));
  calls.push_back(run_on(io_, [&] { return client_->put("k", "v"); }));
  ASSERT_TRUE(eventually([&] { return arrived() == 4; }));
  EXPECT_EQ(lowest_of_last(), 2u);  // 2 is still unanswered
  release(2);
  ASSERT_TRUE(eventually([&] { return answered() == 3; }));
  calls.push_back(run_on(io_, [&] { return client_->put("k", "v"); }));
  ASSERT_TRUE(eventually([&] { return arrived() == 5; }));
  EXPECT_EQ(lowest_of_last(), 4u);
  release(4);
  release(5);
  for (auto& c : calls) EXPECT_TRUE(c.get().is_ok());
}

TEST_F(ClientTest, Session_WritesBeyondTheSeqWindowWaitForTheOldest) {
  options_.seq_window_max = 2;
  start({1});
  HeldWrites held;
  node(0).script = [&held](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    if (!req.has_write()) return reply(respond, ok_answer(req, self));
    held.arrived.push_back(req.write());
    held.by_seq.emplace(req.write().seq(), std::make_pair(req, std::move(respond)));
  };
  std::vector<std::future<Outcome<pb::PutResponse>>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(run_on(io_, [&] { return client_->put("k", "v"); }));
  ASSERT_TRUE(eventually([&] { return io_.call([&] { return held.arrived.size(); }) == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(io_.call([&] { return held.arrived.size(); }), 2u);
  io_.call([&] {
    auto it = held.by_seq.find(1);
    reply(it->second.second, ok_answer(it->second.first, node(0)));
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return io_.call([&] { return held.arrived.size(); }) == 3; }));
  io_.call([&] {
    EXPECT_EQ(held.arrived[2].seq(), 3u);
    EXPECT_EQ(held.arrived[2].lowest_outstanding_seq(), 2u);
    for (uint64_t seq : {2, 3})
      reply(held.by_seq.at(seq).second, ok_answer(held.by_seq.at(seq).first, node(0)));
    return 0;
  });
  for (auto& c : calls) EXPECT_TRUE(c.get().is_ok());
}

TEST_F(ClientTest, Cas_AFalseCompareIsFailedPreconditionWithTheCurrentState) {
  start({1});
  node(0).script = [](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
    pb::ClientResponse r = ok_answer(req, self);
    if (req.has_write()) {
      pb::TxnResponse* t = r.mutable_write()->mutable_txn();
      t->set_succeeded(false);
      pb::KeyValue* kv = t->add_responses()->mutable_get()->mutable_kv();
      kv->set_key(req.write().txn().failure(0).get().key());
      kv->set_value("v7");
      kv->set_mod_revision(43);
    }
    reply(respond, r);
  };
  auto o = run_on(io_, [&] {
             return client_->cas("models/fraud/serving", "v8", CasExpect::mod_revision(42));
           }).get();
  ASSERT_TRUE(o.is_failed()) << o.status().to_string();
  EXPECT_EQ(o.status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o.value().responses(0).get().kv().value(), "v7");
  io_.call([&] {
    const pb::TxnRequest& txn = node(0).seen.back().write().txn();
    EXPECT_EQ(txn.compares(0).mod_revision(), 42u);
    EXPECT_EQ(txn.compares(0).op(), pb::Compare::EQUAL);
    EXPECT_EQ(txn.success(0).put().value(), "v8");
    return 0;
  });
}

TEST_F(ClientTest, Cas_ATrueCompareIsOk) {
  start({1});
  lead(1);
  auto o = run_on(io_, [&] { return client_->cas("k", "v", CasExpect::absent()); }).get();
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_TRUE(o.value().succeeded());
  EXPECT_EQ(io_.call([&] { return node(0).seen.back().write().txn().compares(0).version(); }), 0u);
}

TEST_F(ClientTest, Limits_ARequestOverTheFrameLimitFailsWithoutBeingSent) {
  options_.frame_bytes_max = 1024;
  start({1});
  lead(1);
  auto o = run_on(io_, [&] { return client_->get(std::string(2000, 'k')); }).get();
  ASSERT_TRUE(o.is_failed());
  EXPECT_EQ(o.status().code(), Code::kTooLarge);
}

TEST(BlockingClientTest, StatusAllAsksEveryEndpointAndReportsTheUnreachable) {
  net::IoThread io;
  FakeCluster cluster(io, {1, 2});
  for (size_t i = 0; i < 2; ++i) {
    cluster.node(i).script = [](FakeNode& self, const pb::ClientRequest& req,
                                ClientListener::Respond respond) { reply(respond, ok_answer(req, self)); };
  }
  cluster.kill(1);
  io.call([] { return 0; });
  ClientOptions o;
  o.endpoints = cluster.endpoints();
  o.request_timeout = std::chrono::milliseconds(2000);
  {
    BlockingClient client(o);
    auto all = client.status_all();
    ASSERT_EQ(all.size(), 2u);
    ASSERT_TRUE(all[0].is_ok()) << all[0].status().to_string();
    EXPECT_EQ(all[0].value().id(), 1u);
    ASSERT_TRUE(all[1].is_failed());
    EXPECT_EQ(all[1].status().code(), Code::kUnavailable);
    auto got = client.run([](Client& c) { return c.get("x"); });
    EXPECT_TRUE(got.is_ok());
  }
  io.stop();
}

}  // namespace
}  // namespace castor::kv
