// Sessions (thesis 6.3): exactly-once writes, deterministic expiry by leader timestamps, a
// bounded table, and persistence across restarts.
#include <gtest/gtest.h>

#include "tests/unit/kv/machine/kv_harness.h"

namespace castor::kv {
namespace {

using testing::KvHarness;
using testing::put_request;
using testing::register_command;
using testing::write_command;

pb::WriteRequest session_put(uint64_t client_id, uint64_t seq, const std::string& key) {
  pb::WriteRequest w = put_request(key, "v");
  w.set_client_id(client_id);
  w.set_seq(seq);
  w.set_lowest_outstanding_seq(seq);
  return w;
}

StateMachineOptions with_sessions(uint64_t timeout_ms, uint64_t sessions_max = 8192,
                                  uint64_t responses_max = 256) {
  StateMachineOptions options;
  options.sessions.session_timeout_ms = timeout_ms;
  options.sessions.sessions_max = sessions_max;
  options.sessions.session_responses_max = responses_max;
  return options;
}

TEST(Sessions, RegistrationsGetDistinctIdsEvenWithinOneEntryAndEchoTheirNonce) {
  KvHarness h;
  auto applied = h.apply({register_command(h.now_ms(), 11), register_command(h.now_ms(), 12)});
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].response.register_client().nonce(), 11u);
  EXPECT_EQ(applied[1].response.register_client().nonce(), 12u);
  EXPECT_NE(applied[0].response.register_client().client_id(),
            applied[1].response.register_client().client_id());
  EXPECT_NE(applied[0].response.register_client().client_id(), h.client_id());
  EXPECT_EQ(applied[0].response.code(), pb::OK);
}

TEST(Sessions, DuplicateSeqAnswersTwiceWithTheOriginalResultAndAppliesOnce) {
  KvHarness h;
  pb::WriteRequest w = h.stamp(put_request("k", "v", true));
  pb::ClientResponse first = h.send(w);
  pb::ClientResponse second = h.send(w);
  EXPECT_EQ(first.code(), pb::OK);
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(h.get("k")->version(), 1u);
  EXPECT_EQ(h.get("k")->mod_revision(), first.header().revision());
}

TEST(Sessions, DuplicateWithinOneEntryAppliesOnce) {
  KvHarness h;
  pb::WriteRequest w = h.stamp(put_request("k", "v"));
  auto applied = h.apply({write_command(h.now_ms(), w), write_command(h.now_ms(), w)});
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].response.SerializeAsString(), applied[1].response.SerializeAsString());
  EXPECT_EQ(applied[1].client_id, h.client_id());
  EXPECT_EQ(applied[1].seq, w.seq());
  EXPECT_EQ(h.get("k")->version(), 1u);
}

TEST(Sessions, UnknownClientGetsSessionExpiredAndNothingIsApplied) {
  KvHarness h;
  pb::ClientResponse r = h.send(session_put(h.client_id() + 100, 1, "k"));
  EXPECT_EQ(r.code(), pb::SESSION_EXPIRED);
  EXPECT_FALSE(h.get("k").has_value());
}

// Replicas may run with different --session-timeout-ms (a rolling change): each applies the
// timeout the command carries, so all expire the same sessions at the same entry.
TEST(Sessions, ExpiryFollowsTheTimeoutTheCommandCarriesNotTheReplicasOwn) {
  KvHarness h(with_sessions(1000));
  const uint64_t start = h.now_ms();
  uint64_t other = h.register_client();
  pb::Command patient = write_command(start + 5000, session_put(other, 1, "o"));
  patient.set_session_timeout_ms(60'000);
  ASSERT_EQ(h.apply({patient}).at(0).response.code(), pb::OK);
  pb::Command strict = write_command(start + 5100, session_put(other, 2, "o"));
  strict.set_session_timeout_ms(50);
  EXPECT_EQ(h.apply({strict}).at(0).response.code(), pb::SESSION_EXPIRED);
}

TEST(Sessions, SessionIdleLongerThanTheTimeoutByLeaderTimestampsExpires) {
  KvHarness h(with_sessions(1000));
  const uint64_t start = h.now_ms();
  h.set_now_ms(start + 500);
  uint64_t other = h.register_client();
  // Exactly the timeout idle is not longer than it.
  h.set_now_ms(start + 1000);
  EXPECT_EQ(h.send(session_put(other, 1, "o")).code(), pb::OK);
  h.set_now_ms(start + 1001);
  EXPECT_EQ(h.send(session_put(other, 2, "o")).code(), pb::OK);
  EXPECT_EQ(h.put("k", "v").code(), pb::SESSION_EXPIRED);
  EXPECT_FALSE(h.get("k").has_value());
}

TEST(Sessions, ExpiryRunsOnAnyCommandNotOnlyTheIdleClients) {
  KvHarness h(with_sessions(1000));
  uint64_t idle = h.client_id();
  h.set_now_ms(h.now_ms() + 5000);
  uint64_t fresh = h.register_client();  // its timestamp alone expires the idle session
  EXPECT_EQ(h.send(session_put(fresh, 1, "f")).code(), pb::OK);
  EXPECT_EQ(h.send(session_put(idle, 1, "i")).code(), pb::SESSION_EXPIRED);
}

TEST(Sessions, TimestampsGoingBackwardsNeitherRewindNorExpireByThemselves) {
  KvHarness h(with_sessions(1000));
  const uint64_t start = h.now_ms();  // client A registered here
  h.set_now_ms(start + 500);
  uint64_t b = h.register_client();
  // A new leader whose clock is 2 s behind: A's activity counts at the clock (start + 500).
  h.set_now_ms(start - 2000);
  EXPECT_EQ(h.put("a1", "v").code(), pb::OK);
  // Had A's activity been stamped start - 2000, A would be 2900 ms idle here and expired.
  h.set_now_ms(start + 1400);
  EXPECT_EQ(h.send(session_put(b, 1, "b")).code(), pb::OK);
  EXPECT_EQ(h.put("a2", "v").code(), pb::OK);
}

TEST(Sessions, FullTableEvictsTheLeastRecentlyUsedSession) {
  KvHarness h(with_sessions(1'000'000, 3));
  uint64_t a = h.client_id();
  h.set_now_ms(h.now_ms() + 1);
  uint64_t b = h.register_client();
  h.set_now_ms(h.now_ms() + 1);
  uint64_t c = h.register_client();
  h.set_now_ms(h.now_ms() + 1);
  EXPECT_EQ(h.send(session_put(a, 1, "a")).code(), pb::OK);  // a is now the most recent
  h.set_now_ms(h.now_ms() + 1);
  uint64_t d = h.register_client();  // evicts b
  EXPECT_EQ(h.send(session_put(b, 1, "b")).code(), pb::SESSION_EXPIRED);
  EXPECT_EQ(h.send(session_put(a, 2, "a")).code(), pb::OK);
  EXPECT_EQ(h.send(session_put(c, 1, "c")).code(), pb::OK);
  EXPECT_EQ(h.send(session_put(d, 1, "d")).code(), pb::OK);
}

TEST(Sessions, AnswersBelowLowestOutstandingAreDiscardedAndTheirSeqsNeverReapply) {
  KvHarness h;
  pb::WriteRequest first = h.stamp(put_request("k", "1"));
  EXPECT_EQ(h.send(first).code(), pb::OK);
  EXPECT_EQ(h.put("k", "2").code(), pb::OK);  // lowest_outstanding = 2 acknowledges seq 1
  pb::ClientResponse late = h.send(first);    // a delayed copy of seq 1
  EXPECT_EQ(late.code(), pb::UNKNOWN);
  EXPECT_EQ(h.get("k")->value(), "2");
  EXPECT_EQ(h.get("k")->version(), 2u);
}

TEST(Sessions, OutstandingAnswersAreKeptUntilAcknowledged) {
  KvHarness h;
  pb::WriteRequest one = put_request("a", "1");
  one.set_client_id(h.client_id());
  one.set_seq(1);
  one.set_lowest_outstanding_seq(1);
  pb::WriteRequest two = put_request("b", "2");
  two.set_client_id(h.client_id());
  two.set_seq(2);
  two.set_lowest_outstanding_seq(1);  // still waiting for 1
  pb::ClientResponse r1 = h.send(one);
  h.send(two);
  EXPECT_EQ(h.send(one).SerializeAsString(), r1.SerializeAsString());
}

TEST(Sessions, TooManyHeldAnswersIsResourceExhaustedUntilAcknowledged) {
  KvHarness h(with_sessions(1'000'000, 8192, 2));
  auto w = [&](uint64_t seq, uint64_t lowest) {
    pb::WriteRequest r = put_request("k" + std::to_string(seq), "v");
    r.set_client_id(h.client_id());
    r.set_seq(seq);
    r.set_lowest_outstanding_seq(lowest);
    return r;
  };
  EXPECT_EQ(h.send(w(1, 1)).code(), pb::OK);
  EXPECT_EQ(h.send(w(2, 1)).code(), pb::OK);
  EXPECT_EQ(h.send(w(3, 1)).code(), pb::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(h.get("k3").has_value());
  EXPECT_EQ(h.send(w(3, 2)).code(), pb::OK);  // acknowledging 1 frees a slot
  EXPECT_TRUE(h.get("k3").has_value());
}

TEST(Sessions, SurviveARestartWithTheirCachedAnswers) {
  KvHarness h;
  pb::WriteRequest w = h.stamp(put_request("k", "v"));
  pb::ClientResponse first = h.send(w);
  h.reopen();
  EXPECT_EQ(h.send(w).SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(h.get("k")->version(), 1u);
  EXPECT_EQ(h.put("k2", "v").code(), pb::OK);
}

TEST(Sessions, ExpiryIsTheSameOnEveryReplica) {
  // Two replicas apply the same log at different wall-clock moments; only command timestamps
  // matter, so they agree on every answer.
  testing::TempDir d1, d2;
  std::vector<std::vector<AppliedCommand>> answers;
  for (const std::filesystem::path& dir : {d1.path(), d2.path()}) {
    StateMachineOptions options = with_sessions(1000, 2);
    options.data_dir = dir;
    auto sm = StateMachine::open(options);
    ASSERT_TRUE(sm.is_ok());
    // The leader stamps its session timeout on every command (kv.proto, Command).
    auto stamped = [](pb::Command c) {
      c.set_session_timeout_ms(1000);
      return c;
    };
    std::vector<raft::pb::Entry> log = {
        testing::entry(1, {stamped(register_command(100))}),
        testing::entry(2, {stamped(register_command(200))}),
        testing::entry(3, {stamped(register_command(300))}),  // evicts client 1
        testing::entry(4, {stamped(write_command(400, session_put(1, 1, "x"))),
                           stamped(write_command(400, session_put(3, 1, "z")))}),
        testing::entry(5, {stamped(write_command(1300, session_put(2, 1, "y")))}),  // client 2 idle 1100 ms
        testing::entry(6, {stamped(write_command(1350, session_put(3, 2, "z")))})};
    auto applied = (*sm)->apply(log);
    ASSERT_TRUE(applied.is_ok());
    answers.push_back(*applied);
  }
  ASSERT_EQ(answers[0].size(), answers[1].size());
  for (size_t i = 0; i < answers[0].size(); ++i) {
    EXPECT_EQ(answers[0][i].response.SerializeAsString(), answers[1][i].response.SerializeAsString());
  }
  EXPECT_EQ(answers[0][3].response.code(), pb::SESSION_EXPIRED);
  EXPECT_EQ(answers[0][4].response.code(), pb::OK);
  EXPECT_EQ(answers[0][5].response.code(), pb::SESSION_EXPIRED);
  EXPECT_EQ(answers[0][6].response.code(), pb::OK);
}

}  // namespace
}  // namespace castor::kv
