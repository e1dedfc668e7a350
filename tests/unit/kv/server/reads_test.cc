// Reads (kv/server/reads.h): a linearizable read is served only once the core released it and
// this node applied its read index (thesis 6.4); every reader gets exactly one answer.
#include "kv/server/reads.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace castor::kv {
namespace {

using Clock = std::chrono::steady_clock;

// The node around Reads: read indexes are recorded (or refused), reads "served" are recorded.
struct FakeHost : ReadsHost {
  std::vector<std::string> asked;  // contexts, in order
  Status refuse;
  raft::LogIndex commit;
  int commit_soon_calls = 0;
  std::vector<uint64_t> served;  // request ids

  Status read_index(const std::string& context) override {
    if (!refuse.is_ok()) return refuse;
    asked.push_back(context);
    return Status::ok();
  }
  raft::LogIndex committed() const override { return commit; }
  void serve_read(const pb::ClientRequest& req, const Respond& respond) override {
    served.push_back(req.request_id());
    pb::ClientResponse r;
    r.set_request_id(req.request_id());
    r.mutable_get();
    respond(std::move(r));
  }
  void answer(const Respond& respond, pb::ClientResponse r) const override { respond(std::move(r)); }
  void commit_soon() override { ++commit_soon_calls; }
};

struct Fixture {
  explicit Fixture(bool unsafe = false)
      : reads(ReadsOptions{std::chrono::milliseconds(1000), 42, unsafe}, host) {}
  FakeHost host;
  Reads reads;
  std::map<uint64_t, std::vector<pb::ClientResponse>> answers;  // by request id

  void get(uint64_t request_id, uint64_t applied = 0) {
    pb::ClientRequest req;
    req.set_request_id(request_id);
    req.mutable_get()->set_key("k");
    reads.start(
        req, [this, request_id](pb::ClientResponse r) { answers[request_id].push_back(std::move(r)); },
        raft::LogIndex(applied));
  }
  void release(size_t asked, uint64_t index) {
    reads.released({raft::ReadState{raft::LogIndex(index), host.asked.at(asked)}});
  }
  Code code_of(uint64_t request_id) { return static_cast<Code>(answers.at(request_id).at(0).code()); }
};

TEST(Reads, Thesis6_4_AReadIsServedOnlyOnceReleasedAndItsIndexApplied) {
  Fixture f;
  f.get(1);
  ASSERT_EQ(f.host.asked.size(), 1u);
  f.reads.serve_ready(raft::LogIndex(100));  // applied far ahead, but not released: no answer
  EXPECT_TRUE(f.answers.empty());
  f.release(0, 7);
  f.reads.serve_ready(raft::LogIndex(6));  // released at 7, applied 6: waits, and asks for a commit at once
  EXPECT_TRUE(f.answers.empty());
  EXPECT_EQ(f.host.commit_soon_calls, 1);
  f.reads.serve_ready(raft::LogIndex(7));
  EXPECT_EQ(f.host.served, (std::vector<uint64_t>{1}));
  EXPECT_EQ(f.reads.waiting(), 0u);
}

TEST(Reads, Thesis6_4_AnAnswerForAnotherRunsReadReleasesNothing) {
  Fixture f;
  f.get(1);
  raft::ReadContexts earlier_run(41);  // the incarnation of an earlier run of this node
  f.reads.released({raft::ReadState{raft::LogIndex(1), earlier_run.next()}});
  f.reads.serve_ready(raft::LogIndex(100));
  EXPECT_TRUE(f.answers.empty());
  EXPECT_EQ(f.reads.waiting(), 1u);
}

TEST(Reads, ALeadershipChangeDropsOnlyTheReadsNotYetReleased) {
  Fixture f;
  f.get(1);
  f.get(2);
  f.release(0, 5);
  f.reads.drop_unreleased();
  EXPECT_EQ(f.code_of(2), Code::kUnavailable);
  EXPECT_FALSE(f.answers.count(1));
  f.reads.serve_ready(raft::LogIndex(5));
  EXPECT_EQ(f.host.served, (std::vector<uint64_t>{1}));
}

TEST(Reads, AReadPastItsDeadlineIsUnavailableAndALaterReleaseServesNothing) {
  Fixture f;
  f.get(1);
  f.reads.fail_expired(Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(f.code_of(1), Code::kUnavailable);
  f.release(0, 1);
  f.reads.serve_ready(raft::LogIndex(1));
  EXPECT_TRUE(f.host.served.empty());
  EXPECT_EQ(f.answers.at(1).size(), 1u);
}

TEST(Reads, NoLeaderToConfirmTheReadIsUnavailable) {
  Fixture f;
  f.host.refuse = Status(Code::kNotLeader, "no leader");
  f.get(1);
  EXPECT_EQ(f.code_of(1), Code::kUnavailable);
  EXPECT_EQ(f.reads.waiting(), 0u);
}

TEST(Reads, ThePlantedLocalReadServesAtTheNodesOwnCommitIndexWithoutAsking) {
  Fixture f(/*unsafe=*/true);
  f.host.commit = raft::LogIndex(3);
  f.get(1, /*applied=*/3);
  EXPECT_TRUE(f.host.asked.empty());
  EXPECT_EQ(f.host.served, (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace castor::kv
