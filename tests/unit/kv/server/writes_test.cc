// Writes (kv/server/writes.h): writes that arrive together share one entry; every writer gets
// exactly one answer: the applied command's, UNKNOWN when another leader's entry took its index,
// when a retry replaced it or its deadline passed, the core's error when it refused the entry.
#include "kv/server/writes.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace castor::kv {
namespace {

using Clock = std::chrono::steady_clock;

// The node around Writes: proposals are recorded (or refused), posted jobs run when asked.
struct FakeHost : WritesHost {
  std::vector<pb::CommandBatch> proposed;
  Status refuse;  // non-OK: propose() refuses with it
  std::deque<std::function<void()>> posted;

  Result<raft::Proposal> propose(std::string data) override {
    if (!refuse.is_ok()) return refuse;
    pb::CommandBatch batch;
    EXPECT_TRUE(batch.ParseFromString(data));
    proposed.push_back(batch);
    return raft::Proposal{raft::LogIndex(proposed.size()), raft::Term(1)};
  }
  void answer(const Respond& respond, pb::ClientResponse r) const override { respond(std::move(r)); }
  void post(std::function<void()> job) override { posted.push_back(std::move(job)); }
  void run_posted() {
    while (!posted.empty()) {
      auto job = std::move(posted.front());
      posted.pop_front();
      job();
    }
  }
};

struct Fixture {
  FakeHost host;
  ServerMetrics metrics;
  Writes writes{WritesOptions{1 << 20, 60000, std::chrono::milliseconds(1000)}, host, metrics};
  std::map<uint64_t, std::vector<pb::ClientResponse>> answers;  // by request id

  void put(uint64_t request_id, uint64_t client_id, uint64_t seq) {
    pb::ClientRequest req;
    req.set_request_id(request_id);
    pb::WriteRequest* w = req.mutable_write();
    w->set_client_id(client_id);
    w->set_seq(seq);
    w->mutable_put()->set_key("k");
    w->mutable_put()->set_value("v");
    req.ByteSizeLong();  // validate() sizes every request before it reaches Writes
    writes.take(req,
                [this, request_id](pb::ClientResponse r) { answers[request_id].push_back(std::move(r)); });
  }
  Code code_of(uint64_t request_id) { return static_cast<Code>(answers.at(request_id).at(0).code()); }
};

AppliedCommand applied(uint64_t client_id, uint64_t seq) {
  AppliedCommand ac;
  ac.client_id = client_id;
  ac.seq = seq;
  ac.response.mutable_write()->mutable_put();
  return ac;
}

TEST(Writes, WritesTakenTogetherShareOneEntryAndEachGetsItsAppliedAnswer) {
  Fixture f;
  f.put(1, 10, 1);
  f.put(2, 11, 1);
  f.host.run_posted();
  ASSERT_EQ(f.host.proposed.size(), 1u);
  EXPECT_EQ(f.host.proposed[0].commands_size(), 2);
  EXPECT_EQ(f.writes.waiting(), 2u);
  std::vector<AppliedCommand> done;
  done.push_back(applied(10, 1));
  done.push_back(applied(11, 1));
  f.writes.answer_applied(std::move(done));
  EXPECT_EQ(f.code_of(1), Code::kOk);
  EXPECT_EQ(f.answers.at(2).at(0).request_id(), 2u);
  EXPECT_EQ(f.writes.waiting(), 0u);
}

TEST(Writes, AnEntryReplacedByAnotherLeadersIsUnknownToItsWriters) {
  Fixture f;
  f.put(1, 10, 1);
  f.host.run_posted();
  raft::pb::Entry other;
  other.set_index(1);
  other.set_term(2);  // Writes proposed index 1 in term 1
  f.writes.forget_lost({other});
  EXPECT_EQ(f.code_of(1), Code::kUnknown);
  f.writes.answer_applied({applied(10, 1)});  // the same command applied later: no second answer
  EXPECT_EQ(f.answers.at(1).size(), 1u);
}

TEST(Writes, AnEntryThatCommittedInItsOwnTermWaitsForItsAnswer) {
  Fixture f;
  f.put(1, 10, 1);
  f.host.run_posted();
  raft::pb::Entry same;
  same.set_index(1);
  same.set_term(1);
  f.writes.forget_lost({same});
  EXPECT_TRUE(f.answers.empty());
  EXPECT_EQ(f.writes.waiting(), 1u);
}

TEST(Writes, ARefusedProposalAnswersTheCoresError) {
  Fixture f;
  f.host.refuse = Status(Code::kDropped, "too many uncommitted entries");
  f.put(1, 10, 1);
  f.host.run_posted();
  EXPECT_EQ(f.code_of(1), Code::kDropped);
  EXPECT_EQ(f.writes.waiting(), 0u);
}

TEST(Writes, ARetryOfTheSameWriteSupersedesTheFirstWaiter) {
  Fixture f;
  f.put(1, 10, 5);
  f.put(2, 10, 5);  // the client's retry: same client and seq
  EXPECT_EQ(f.code_of(1), Code::kUnknown);
  EXPECT_EQ(f.writes.waiting(), 1u);
  f.host.run_posted();
  f.writes.answer_applied({applied(10, 5)});
  EXPECT_EQ(f.code_of(2), Code::kOk);
  EXPECT_EQ(f.answers.at(1).size(), 1u);
}

TEST(Writes, AWriterPastItsDeadlineIsUnknownAndAnsweredOnce) {
  Fixture f;
  f.put(1, 10, 1);
  f.host.run_posted();
  f.writes.fail_expired(Clock::now());  // before the deadline: nothing
  EXPECT_TRUE(f.answers.empty());
  f.writes.fail_expired(Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(f.code_of(1), Code::kUnknown);
  f.writes.answer_applied({applied(10, 1)});
  EXPECT_EQ(f.answers.at(1).size(), 1u);
}

}  // namespace
}  // namespace castor::kv
