// The health rule (kv/server/health.h): each check fails on its own and names itself, in
// order; a commit index is stalled only while entries wait, past the bound, and unmoved.
#include "kv/server/health.h"

#include <gtest/gtest.h>

namespace castor::kv {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
const auto kStart = std::chrono::steady_clock::now();

HealthFacts healthy() {
  HealthFacts f;
  f.leader = 1;
  f.role = raft::Role::kLeader;
  f.commit = 100;
  f.applied = 100;
  f.apply_lag_max = 10;
  f.last_index = 100;
  return f;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Health, AllChecksPassingIsHealthy) { EXPECT_EQ(unhealthy_reason(healthy()), ""); }

TEST(Health, EachFailingCheckNamesItself) {
  HealthFacts f = healthy();
  f.stopping = true;
  EXPECT_EQ(unhealthy_reason(f), "shutting down");

  f = healthy();
  f.leader = 0;
  f.role = raft::Role::kPreCandidate;
  EXPECT_EQ(unhealthy_reason(f), "no leader (role pre-candidate)");

  f = healthy();
  f.applied = 90;  // trails by exactly the bound
  EXPECT_TRUE(contains(unhealthy_reason(f), "trails commit index 100 by 10 entries (bound 10)"))
      << unhealthy_reason(f);
  f.applied = 91;
  EXPECT_EQ(unhealthy_reason(f), "") << "a lag below the bound is healthy";

  f = healthy();
  f.storage_full = "the disk is full";
  EXPECT_EQ(unhealthy_reason(f), "the disk is full");

  f = healthy();
  f.last_index = 107;
  f.commit_stalled = milliseconds(2500);
  EXPECT_TRUE(contains(unhealthy_reason(f), "has not moved for 2500 ms while 7 entries wait"))
      << unhealthy_reason(f);
}

TEST(Health, TheFirstFailingCheckWins) {
  HealthFacts f = healthy();
  f.leader = 0;
  f.storage_full = "the disk is full";
  f.commit_stalled = seconds(3);
  EXPECT_TRUE(contains(unhealthy_reason(f), "no leader")) << unhealthy_reason(f);
}

TEST(CommitWatch, StalledOnlyWhileEntriesWaitPastTheBoundWithTheCommitUnmoved) {
  CommitWatch w;
  const auto bound = seconds(2);
  w.observe(true, 5, kStart);
  EXPECT_FALSE(w.stalled(true, 5, kStart + seconds(1), bound)) << "within the bound";
  const auto stalled = w.stalled(true, 5, kStart + seconds(3), bound);
  ASSERT_TRUE(stalled);
  EXPECT_EQ(*stalled, seconds(3));
  EXPECT_FALSE(w.stalled(false, 5, kStart + seconds(3), bound)) << "nothing waits";
  EXPECT_FALSE(w.stalled(true, 6, kStart + seconds(3), bound)) << "the commit moved since";
}

TEST(CommitWatch, AMovingCommitOrNothingWaitingRestartsTheClock) {
  CommitWatch w;
  const auto bound = seconds(2);
  w.observe(true, 5, kStart);
  w.observe(true, 6, kStart + seconds(2));  // moved
  EXPECT_FALSE(w.stalled(true, 6, kStart + seconds(3), bound));
  EXPECT_TRUE(w.stalled(true, 6, kStart + seconds(5), bound));
  w.observe(false, 6, kStart + seconds(5));  // caught up: nothing waits
  w.observe(true, 6, kStart + seconds(6));   // new entries, commit where it was
  EXPECT_FALSE(w.stalled(true, 6, kStart + seconds(7), bound)) << "the clock restarted when nothing waited";
}

}  // namespace
}  // namespace castor::kv
