// The simulator is trusted only because it is shown to fail: each test plants a known bug in
// the Raft core (raft::PlantedBug) and asserts that the simulator finds a violation of the
// property the bug breaks within a bounded number of seeds.
#include <gtest/gtest.h>

#include "tests/sim/simulation.h"

namespace castor::sim {
namespace {

// Runs seeds 1..seeds_max with `bug` planted; returns the first violation found, or "".
std::string first_violation(raft::PlantedBug bug, int nodes, uint64_t seeds_max) {
  for (uint64_t s = 1; s <= seeds_max; ++s) {
    Options opt;
    opt.seed = s;
    opt.nodes = nodes;
    opt.planted_bug = bug;
    Outcome out = Simulation(opt).run();
    if (!out.violations.empty()) return "seed " + std::to_string(s) + ": " + out.violations.front();
  }
  return "";
}

TEST(PlantedBug, CleanCoreHasNoViolationsOnTheSameSeeds) {
  EXPECT_EQ(first_violation(raft::PlantedBug::kNone, 5, 100), "");
}

TEST(PlantedBug, Section5_4_2_CommittingOldTermEntriesByCountingIsCaught) {
  const std::string v = first_violation(raft::PlantedBug::kCommitOldTermByCounting, 3, 1000);
  EXPECT_NE(v, "") << "the simulator missed commit-old-term";
  std::printf("found: %s\n", v.c_str());
}

TEST(PlantedBug, Section5_2_GrantingAVoteBeforePersistingItIsCaught) {
  const std::string v = first_violation(raft::PlantedBug::kVoteBeforePersist, 3, 1000);
  EXPECT_NE(v, "") << "the simulator missed vote-before-persist";
  std::printf("found: %s\n", v.c_str());
}

TEST(PlantedBug, Thesis6_4_ReleasingAReadWithoutAHeartbeatRoundIsCaught) {
  const std::string v = first_violation(raft::PlantedBug::kReadWithoutHeartbeat, 3, 500);
  EXPECT_NE(v, "") << "the simulator missed read-without-heartbeat";
  EXPECT_NE(v.find("linearizable read"), std::string::npos) << v;
}

TEST(PlantedBug, Section5_3_KeepingAConflictingSuffixIsCaught) {
  const std::string v = first_violation(raft::PlantedBug::kKeepConflictingSuffix, 3, 500);
  EXPECT_NE(v, "") << "the simulator missed keep-conflicting-suffix";
  std::printf("found: %s\n", v.c_str());
}

}  // namespace
}  // namespace castor::sim
