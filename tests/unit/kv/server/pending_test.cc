// Pending (kv/server/pending.h): every waiter comes out exactly once, through take, take_if or
// take_expired; a retry under the same key hands back the waiter it replaces.
#include "kv/server/pending.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace castor::kv {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

const Clock::time_point kNow = Clock::now();

Waiting<> waiter(uint64_t request_id, Clock::time_point deadline = kNow + seconds(10)) {
  return Waiting<>{request_id, [](pb::ClientResponse) {}, deadline, {}};
}

TEST(Pending, TakeReturnsTheWaiterOnceAndThenNothing) {
  Pending<uint64_t> p;
  EXPECT_FALSE(p.add(7, waiter(70)).has_value());
  EXPECT_TRUE(p.contains(7));
  std::optional<Waiting<>> w = p.take(7);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->request_id, 70u);
  EXPECT_FALSE(p.take(7).has_value());
  EXPECT_EQ(p.size(), 0u);
}

TEST(Pending, ARetryUnderTheSameKeyHandsBackTheWaiterItReplaces) {
  Pending<std::pair<uint64_t, uint64_t>> p;
  ASSERT_FALSE(p.add({1, 5}, waiter(10)).has_value());
  std::optional<Waiting<>> old = p.add({1, 5}, waiter(11));
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->request_id, 10u);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(p.take({1, 5})->request_id, 11u);
}

TEST(Pending, TakeExpiredTakesExactlyThoseAtOrPastTheirDeadline) {
  Pending<uint64_t> p;
  ASSERT_FALSE(p.add(1, waiter(1, kNow - seconds(1))).has_value());
  ASSERT_FALSE(p.add(2, waiter(2, kNow)).has_value());
  ASSERT_FALSE(p.add(3, waiter(3, kNow + seconds(1))).has_value());
  std::vector<uint64_t> expired;
  for (auto& [key, w] : p.take_expired(kNow)) expired.push_back(w.request_id);
  EXPECT_EQ(expired, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.contains(3));
  EXPECT_TRUE(p.take_expired(kNow).empty());
}

TEST(Pending, TakeIfSeesTheExtraAndLeavesTheRest) {
  Pending<uint64_t, std::string> p;
  ASSERT_FALSE(p.add(1, Waiting<std::string>{1, {}, kNow, "n2"}).has_value());
  ASSERT_FALSE(p.add(2, Waiting<std::string>{2, {}, kNow, "n3"}).has_value());
  auto taken = p.take_if([](uint64_t, const Waiting<std::string>& w) { return w.extra == "n3"; });
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].first, 2u);
  EXPECT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.contains(1));
}

}  // namespace
}  // namespace castor::kv
