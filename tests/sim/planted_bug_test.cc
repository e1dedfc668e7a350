// The simulator is trusted only because it is shown to fail: each test plants a known bug (in
// the Raft core, the Ready loop or the host) and asserts that, over a fixed range of seeds at 3
// and at 5 nodes, at least a minimum share of the seeds break the very property the bug breaks
// (the invariant's name, Outcome::property), not merely some property.
//
// Every rare bug must be caught in at least 5% of the seeds, the share at which CI's 500 seeds
// per size catch it with probability above 99.9% (docs/PERFORMANCE.md); the common ones have
// minimums well below their measured rates, so that a change to the simulator that shifts
// which seeds trip does not fail a test, while one that stops it reaching a bug does.
// `castor-sim --rates` prints the rates over any range of seeds.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "tests/sim/simulation.h"

namespace castor::sim {
namespace {

constexpr uint64_t kSeeds = 200;

struct Caught {
  uint64_t seeds = 0;   // seeds whose first violation broke one of the bug's properties
  std::string example;  // the first of them, or else the first violation of another property
};

Caught run(const std::string& bug, int nodes, uint64_t seeds) {
  PlantedBugInfo info;
  for (const auto& b : planted_bugs()) {
    if (b.name == bug) info = b;
  }
  Caught c;
  for (uint64_t s = 1; s <= seeds; ++s) {
    Options opt;
    EXPECT_TRUE(plant(bug, opt)) << bug;
    opt.seed = s;
    opt.nodes = nodes;
    const Outcome out = Simulation(opt).run();
    if (out.violations.empty()) continue;
    const bool match = info.breaks(out.property());
    c.seeds += match ? 1 : 0;
    if (c.example.empty() || (match && c.seeds == 1))
      c.example = "seed " + std::to_string(s) + ": " + out.violations.front();
  }
  return c;
}

// At least `min_percent` of seeds 1..seeds break the bug's property, at each size.
void expect_caught(const std::string& bug, double min_percent, std::initializer_list<int> sizes = {3, 5},
                   uint64_t seeds = kSeeds) {
  for (int nodes : sizes) {
    const Caught c = run(bug, nodes, seeds);
    const double percent = 100.0 * static_cast<double>(c.seeds) / static_cast<double>(seeds);
    EXPECT_GE(percent, min_percent) << bug << " at " << nodes << " nodes: " << c.seeds << " of " << seeds
                                    << " seeds; " << c.example;
    std::printf("%s, %d nodes: %.1f%% of seeds (%s)\n", bug.c_str(), nodes, percent, c.example.c_str());
  }
}

// The same seeds catch no violation without a bug (ctest's castor_sim_* runs cover more).
TEST(PlantedBug, CleanCoreHasNoViolationsOnTheSameSeeds) {
  for (uint64_t s = 1; s <= 100; ++s) {
    Options opt;
    opt.seed = s;
    opt.nodes = 5;
    const Outcome out = Simulation(opt).run();
    EXPECT_TRUE(out.ok()) << "seed " << s << ": "
                          << (out.violations.empty() ? out.liveness_reason : out.violations.front());
  }
}

// A run that did less than its minimum of work checked next to nothing: it must not pass.
TEST(PlantedBug, ARunThatDidTooLittleIsNotClean) {
  Options opt;
  opt.seed = 1;
  opt.reads_min = 1'000'000;
  const Outcome out = Simulation(opt).run();
  EXPECT_FALSE(out.ok());
  EXPECT_TRUE(out.liveness_failed);
  EXPECT_NE(out.liveness_reason.find("reads checked"), std::string::npos) << out.liveness_reason;
}

// Paper 5.4.2 (figure 8): a leader may commit an entry of an earlier term only by committing
// one of its own; counting replicas lets a later leader without the entry be elected. It takes
// leaders whose appends stay on the minority side of cuts, one after another, then a leader
// that dies right after counting: the weather of "split tails" (simulation.cc).
TEST(PlantedBug, Section5_4_2_CommittingOldTermEntriesByCountingIsCaught) {
  expect_caught("commit-old-term", 5.0);
}

// Paper 5.2: a vote granted before it is durable is forgotten by a crash, and given again.
TEST(PlantedBug, Section5_2_GrantingAVoteBeforePersistingItIsCaught) {
  expect_caught("vote-before-persist", 5.0);
}

// Thesis 6.4: a read is released only after a heartbeat round confirms the leader.
TEST(PlantedBug, Thesis6_4_ReleasingAReadWithoutAHeartbeatRoundIsCaught) {
  expect_caught("read-without-heartbeat", 30.0);
}

// Thesis 6.4: only replies to a round's own heartbeat, sent after its reads arrived, confirm
// it; an older reply may come from before the leader was deposed (a paused leader resuming).
TEST(PlantedBug, Thesis6_4_AReplyToAnEarlierHeartbeatConfirmingAReadIsCaught) {
  expect_caught("any-reply-confirms-read", 5.0);
}

// Paper 5.3: a follower deletes a conflicting entry and all that follow it.
TEST(PlantedBug, Section5_3_KeepingAConflictingSuffixIsCaught) {
  expect_caught("keep-conflicting-suffix", 25.0);
}

// The host's bug castord had (raft/read_context.h): each run names its reads 1, 2, ..., so a
// leader's answer meant for the previous run releases a read of this one too early.
TEST(PlantedBug, Thesis6_4_AReadAnswerMeantForAnEarlierRunIsCaught) {
  expect_caught("reuse-read-contexts", 5.0);
}

// The Ready loop castord runs (raft/ready_loop.h), with a bug planted in it. Paper 5.3 / thesis
// 3.8: an acknowledgement may only follow the fsync; an acknowledged entry lost in a crash
// lets a leader without it be elected, and a vote grant (paper 5.2) lost in a crash lets the
// voter elect a second leader in the same term.
TEST(PlantedBug, Section5_3_AcknowledgingBeforeTheFsyncIsCaught) { expect_caught("ack-before-fsync", 5.0); }

// Paper 5.3: only committed entries apply. Applying entries as they arrive makes the state
// machine see an index twice or out of order.
TEST(PlantedBug, Section5_3_ApplyingEntriesBeforeTheyCommitIsCaught) {
  expect_caught("apply-before-commit", 50.0);
}

}  // namespace
}  // namespace castor::sim
