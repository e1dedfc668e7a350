// Transfers (kv/server/transfers.h): each waiting transfer is answered exactly once: OK when
// its own target leads, UNAVAILABLE once its deadline passed; other leaders leave it waiting.
#include "kv/server/transfers.h"

#include <gtest/gtest.h>

namespace castor::kv {
namespace {

struct Recorded {
  std::vector<pb::ClientResponse> answers;
  Respond respond() {
    return [this](pb::ClientResponse r) { answers.push_back(std::move(r)); };
  }
};

void deliver(std::vector<Transfers::Answer> answers) {
  for (auto& [respond, r] : answers) respond(std::move(r));
}

TEST(Transfers, OnlyTheTargetTakingOverAnswersAndOnlyOnce) {
  Transfers t(std::chrono::seconds(10));
  Recorded to2, to3;
  t.wait(7, to2.respond(), 2);
  t.wait(8, to3.respond(), 3);
  EXPECT_TRUE(t.took_over(1).empty()) << "another leader answers nothing";
  deliver(t.took_over(2));
  ASSERT_EQ(to2.answers.size(), 1u);
  EXPECT_EQ(to2.answers[0].request_id(), 7u);
  EXPECT_TRUE(to2.answers[0].has_transfer_leader());
  EXPECT_EQ(to2.answers[0].code(), pb::OK);
  EXPECT_TRUE(to3.answers.empty());
  EXPECT_EQ(t.waiting(), 1u);
  EXPECT_TRUE(t.took_over(2).empty()) << "answered once";
}

TEST(Transfers, APassedDeadlineAnswersUnavailable) {
  Transfers t(std::chrono::milliseconds(0));
  Recorded r;
  t.wait(9, r.respond(), 3);
  deliver(t.expired(std::chrono::steady_clock::now() + std::chrono::milliseconds(1)));
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].code(), pb::UNAVAILABLE);
  EXPECT_FALSE(r.answers[0].has_transfer_leader());
  EXPECT_EQ(t.waiting(), 0u);
  EXPECT_TRUE(t.took_over(3).empty()) << "an expired transfer is not answered again";
}

TEST(Transfers, TheDeadlineIsTheTimeoutFromWhenItWaits) {
  Transfers t(std::chrono::seconds(10));
  Recorded r;
  t.wait(1, r.respond(), 2);
  EXPECT_TRUE(t.expired(std::chrono::steady_clock::now()).empty());
  EXPECT_EQ(t.expired(std::chrono::steady_clock::now() + std::chrono::seconds(11)).size(), 1u);
}

}  // namespace
}  // namespace castor::kv
