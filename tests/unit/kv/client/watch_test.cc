#include "kv/client/watch.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "tests/unit/kv/client/fake_cluster.h"

namespace castor::kv {
namespace {

using RC = pb::ClientRequest::RequestCase;

pb::Event put_event(uint64_t revision, const std::string& key = "k") {
  pb::Event e;
  e.set_type(pb::Event::PUT);
  e.mutable_kv()->set_key(key);
  e.mutable_kv()->set_value("v" + std::to_string(revision));
  e.mutable_kv()->set_mod_revision(revision);
  return e;
}

// An answer of the watch `req` on `node`: its events up to `revision`.
pb::ClientResponse watch_answer(const pb::ClientRequest& req, const FakeNode& node, uint64_t revision,
                                const std::vector<pb::Event>& events = {}, bool fragment = false) {
  pb::ClientResponse r = answer(req, Code::kOk, node, 0);
  pb::WatchResponse* w = r.mutable_watch();
  w->set_revision(revision);
  for (const pb::Event& e : events) *w->add_events() = e;
  w->set_fragment(fragment);
  return r;
}

std::vector<uint64_t> revisions(const WatchEvents& got) {
  std::vector<uint64_t> out;
  for (const pb::Event& e : got.events) out.push_back(e.kv().mod_revision());
  return out;
}

class WatchTest : public ::testing::Test {
 protected:
  using Then = std::function<void(size_t node)>;

  void start(size_t nodes, WatchOptions o = {}) {
    std::vector<uint64_t> ids;
    for (size_t i = 1; i <= nodes; ++i) ids.push_back(i);
    cluster_ = std::make_unique<FakeCluster>(io_, ids);
    kept_.resize(nodes);
    ClientOptions c;
    c.endpoints = cluster_->endpoints();
    c.stream_queued_bytes_max = stream_bytes_max_;
    // No node of these tests sends progress: long enough never to be taken for silence.
    if (o.silence == WatchOptions{}.silence) o.silence = std::chrono::seconds(30);
    watch_ = std::make_unique<Watch>(io_.io, c, o);
  }
  void TearDown() override {
    io_.stop();
    watch_.reset();
    cluster_.reset();
  }
  FakeNode& node(size_t i) { return cluster_->node(i); }

  // Node i takes a watch: `created` at its start revision (else at `now`), then `then(i)` on
  // the io thread; it keeps the stream for send() and finish(), and answers a cancel.
  void serve(size_t i, uint64_t now, Then then = {}) {
    node(i).script = [this, now, then](FakeNode& self, const pb::ClientRequest& req,
                                       ClientListener::Respond respond) {
      if (req.has_watch_cancel()) {
        reply(respond, ok_answer(req, self));
        return finish(self.id - 1, Code::kOk, kept_[self.id - 1]->first.watch().start_revision());
      }
      kept_[self.id - 1] = {req, respond};
      pb::ClientResponse r =
          watch_answer(req, self, req.watch().has_start_revision() ? req.watch().start_revision() : now);
      r.mutable_watch()->set_created(true);
      respond.part(r.SerializeAsString());
      if (then) then(self.id - 1);
    };
  }
  // Node i refuses every watch with `code` (no watch body: a refusal, not an end).
  void refuse(size_t i, Code code) {
    node(i).script = [code](FakeNode& self, const pb::ClientRequest& req, ClientListener::Respond respond) {
      reply(respond, answer(req, code, self, 0));
    };
  }
  // Node i ends every watch at once with `code`, as a stream's last answer.
  void end_at_once(size_t i, Code code, uint64_t compact_revision = 0) {
    node(i).script = [code, compact_revision](FakeNode& self, const pb::ClientRequest& req,
                                              ClientListener::Respond respond) {
      pb::ClientResponse r = watch_answer(req, self, req.watch().start_revision());
      r.set_code(static_cast<pb::ErrorCode>(code));
      r.mutable_watch()->set_canceled(true);
      r.mutable_watch()->set_compact_revision(compact_revision);
      reply(respond, r);
    };
  }

  // On the io thread: node i's open watch answers `events` up to `revision`.
  void send_now(size_t i, uint64_t revision, const std::vector<pb::Event>& events, bool fragment = false) {
    auto& [req, respond] = *kept_[i];
    respond.part(watch_answer(req, node(i), revision, events, fragment).SerializeAsString());
  }
  void send(size_t i, uint64_t revision, const std::vector<pb::Event>& events, bool fragment = false) {
    io_.call([&] {
      send_now(i, revision, events, fragment);
      return 0;
    });
  }
  // On the io thread: node i's open watch ends with `code`.
  void finish(size_t i, Code code, uint64_t revision) {
    auto& [req, respond] = *kept_[i];
    pb::ClientResponse r = watch_answer(req, node(i), revision);
    r.set_code(static_cast<pb::ErrorCode>(code));
    r.mutable_watch()->set_canceled(true);
    reply(respond, r);
  }

  // The start_revision of the last watch node i was asked for (nullopt: none, or unset).
  std::optional<uint64_t> start_at(size_t i) {
    return io_.call([&]() -> std::optional<uint64_t> {
      for (auto it = node(i).seen.rbegin(); it != node(i).seen.rend(); ++it) {
        if (it->has_watch() && it->watch().has_start_revision()) return it->watch().start_revision();
      }
      return std::nullopt;
    });
  }
  size_t watches_at(size_t i) {
    return io_.call([&] { return node(i).count(RC::kWatch); });
  }

  // next(), with a bound that only stops a hung test.
  Result<WatchEvents> next() {
    auto f = run_on(io_, [&] { return watch_->next(); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "next() did not return";
      io_.call([&] {
        watch_->cancel();  // so that it does, and the test can go on to its end
        return 0;
      });
    }
    return f.get();
  }

  uint64_t stream_bytes_max_ = uint64_t{8} << 20;
  net::IoThread io_;
  std::unique_ptr<FakeCluster> cluster_;
  std::vector<std::optional<std::pair<pb::ClientRequest, ClientListener::Respond>>> kept_;
  std::unique_ptr<Watch> watch_;
};

TEST_F(WatchTest, FragmentsOfOneRevisionAreReturnedTogetherOnceWhole) {
  start(1);
  serve(0, 10, [this](size_t i) {
    send_now(i, 11, {put_event(11, "a")}, true);
    send_now(i, 11, {put_event(11, "b")}, true);
    send_now(i, 11, {put_event(11, "c")});
    send_now(i, 12, {put_event(12, "d")});
  });
  Result<WatchEvents> first = next();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_EQ(first->events.size(), 3u);
  EXPECT_EQ(first->events[0].kv().key() + first->events[1].kv().key() + first->events[2].kv().key(), "abc");
  EXPECT_EQ(first->revision, 11u);
  Result<WatchEvents> second = next();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(revisions(*second), (std::vector<uint64_t>{12}));
  EXPECT_EQ(watch_->revision(), std::optional<uint64_t>(12));
}

TEST_F(WatchTest, AfterALostConnectionItResumesOnTheNextNodeFromTheLastRevisionReturned) {
  start(3);
  // Node 0 sends revisions 11 and 12, then half of 13, and dies.
  serve(0, 10, [this](size_t i) { send_now(i, 12, {put_event(11), put_event(12)}); });
  serve(1, 20, [this](size_t i) {
    send_now(i, 14, {put_event(13, "a"), put_event(13, "b"), put_event(14)});
  });
  Result<WatchEvents> first = next();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(revisions(*first), (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(watch_->node(), 1u);
  send(0, 13, {put_event(13, "a")}, true);
  cluster_->kill(0);
  Result<WatchEvents> second = next();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  // Revision 13 once, whole: the fragment node 0 sent before dying is not kept.
  EXPECT_EQ(revisions(*second), (std::vector<uint64_t>{13, 13, 14}));
  EXPECT_EQ(start_at(1), std::optional<uint64_t>(12));
  EXPECT_EQ(watch_->resumes(), 1u);
  EXPECT_EQ(watch_->node(), 2u);
}

TEST_F(WatchTest, CompactedOnOneNodeResumesOnAnotherThatKeepsTheHistory) {
  WatchOptions o;
  o.start_revision = 5;
  start(2, o);
  end_at_once(0, Code::kCompacted, 50);
  serve(1, 60, [this](size_t i) { send_now(i, 6, {put_event(6)}); });
  Result<WatchEvents> got = next();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(revisions(*got), (std::vector<uint64_t>{6}));
  EXPECT_EQ(start_at(1), std::optional<uint64_t>(5));
  EXPECT_EQ(watch_->resumes(), 1u);
}

TEST_F(WatchTest, CompactedIsAnErrorOnlyWhenEveryNodeSaysSo) {
  WatchOptions o;
  o.start_revision = 5;
  start(3, o);
  end_at_once(0, Code::kCompacted, 40);
  end_at_once(1, Code::kCompacted, 50);
  end_at_once(2, Code::kCompacted, 45);
  Result<WatchEvents> got = next();
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().code(), Code::kCompacted) << got.status().to_string();
  EXPECT_EQ(watch_->floor(), 50u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(watches_at(i), 1u) << "node " << i;
  // It stays failed.
  EXPECT_EQ(next().status().code(), Code::kCompacted);
}

TEST_F(WatchTest, TooSlowResumesFromTheLastRevisionReturned) {
  start(2);
  serve(0, 10, [this](size_t i) {
    send_now(i, 11, {put_event(11)});
    finish(i, Code::kTooSlow, 11);
  });
  serve(1, 30, [this](size_t i) { send_now(i, 12, {put_event(12)}); });
  Result<WatchEvents> first = next();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  Result<WatchEvents> second = next();
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(revisions(*first), (std::vector<uint64_t>{11}));
  EXPECT_EQ(revisions(*second), (std::vector<uint64_t>{12}));
  EXPECT_EQ(start_at(1), std::optional<uint64_t>(11));
}

TEST_F(WatchTest, ARefusalOfTheWatchItselfIsReportedAndNotRetriedElsewhere) {
  start(2);
  refuse(0, Code::kTooLarge);
  serve(1, 10);
  Result<WatchEvents> got = next();
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().code(), Code::kTooLarge) << got.status().to_string();
  EXPECT_EQ(next().status().code(), Code::kTooLarge);
  EXPECT_EQ(watches_at(1), 0u);
}

TEST_F(WatchTest, ANodeSilentLongerThanTheSilenceBoundIsLeft) {
  WatchOptions o;
  o.silence = std::chrono::milliseconds(200);
  start(2, o);
  serve(0, 10);  // created, then nothing: no events, no progress
  serve(1, 10, [this](size_t i) { send_now(i, 11, {put_event(11)}); });
  Result<WatchEvents> got = next();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(revisions(*got), (std::vector<uint64_t>{11}));
  EXPECT_EQ(start_at(1), std::optional<uint64_t>(10));
}

TEST_F(WatchTest, AnswersPastTheClientsStreamBoundEndItAndItResumesAfterWhatWasTaken) {
  // Room for the small answers, not for the large one, however many of them wait unread.
  stream_bytes_max_ = 300;
  start(2);
  serve(0, 10, [this](size_t i) {
    send_now(i, 11, {put_event(11)});
    send_now(i, 12, {put_event(12)});
    send_now(i, 13, {put_event(13, std::string(400, 'x'))});
  });
  serve(1, 10, [this](size_t i) { send_now(i, 15, {put_event(15)}); });
  std::vector<uint64_t> seen;
  while (seen.size() < 3) {
    Result<WatchEvents> got = next();
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    for (uint64_t r : revisions(*got)) seen.push_back(r);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{11, 12, 15}));
  EXPECT_EQ(start_at(1), std::optional<uint64_t>(12));
}

TEST_F(WatchTest, CancelTellsTheNodeAndEndsTheWatchWithoutResuming) {
  start(2);
  serve(0, 10, [this](size_t i) { send_now(i, 11, {put_event(11)}); });
  serve(1, 10);
  ASSERT_TRUE(next().is_ok());
  auto waiting = run_on(io_, [&] { return watch_->next(); });
  io_.call([&] {
    watch_->cancel();
    return 0;
  });
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Result<WatchEvents> got = waiting.get();
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_TRUE(got->ended);
  const pb::ClientRequest cancel = io_.call([&] { return node(0).seen.back(); });
  ASSERT_TRUE(cancel.has_watch_cancel());
  EXPECT_EQ(cancel.watch_cancel().watch_request_id(), kept_[0]->first.request_id());
  EXPECT_EQ(watch_->resumes(), 0u);
  EXPECT_EQ(watches_at(1), 0u);
  EXPECT_TRUE(next()->ended);
}

}  // namespace
}  // namespace castor::kv
