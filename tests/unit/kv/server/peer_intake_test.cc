// PeerIntake (kv/server/peer_intake.h): a valid message reaches the core; one inconsistent in
// itself is refused and counted; while the disk is below its reserve, entries and snapshots
// are left for the leader to resend (not counted as bad input) and everything else still steps.
#include "kv/server/peer_intake.h"

#include <gtest/gtest.h>

#include "raft/memory_log.h"
#include "tests/unit/raft/test_cluster.h"
#include "tests/unit/temp_dir.h"

namespace castor::kv {
namespace {

using raft::testing::conf_of;
using raft::testing::config_for;
using raft::testing::msg;

struct Fixture {
  explicit Fixture(uint64_t reserve_bytes = 0) : disk(dir.path(), reserve_bytes) {
    disk.refresh(std::chrono::steady_clock::now());
  }
  castor::testing::TempDir dir;
  DiskSpace disk;
  raft::MemoryLog log{conf_of(3)};
  raft::Node node{config_for(1), log};
  PeerIntake intake{node, disk};
};

// Messages refused so far, whatever the reason.
uint64_t refused_total(const PeerIntake& intake) {
  uint64_t n = 0;
  for (const auto& [reason, count] : intake.refused()) n += count;
  return n;
}

// A heartbeat from leader 2 at `term`.
raft::pb::Message heartbeat(uint64_t term) { return msg(raft::pb::MSG_HEARTBEAT, 2, 1, term); }

// An append from leader 2 at `term` with nothing before it.
raft::pb::Message append(uint64_t term) {
  raft::pb::Message m = msg(raft::pb::MSG_APP, 2, 1, term);
  m.set_index(0);
  m.set_log_term(0);
  return m;
}

TEST(PeerIntake, AValidMessageReachesTheCore) {
  Fixture f;
  EXPECT_TRUE(f.intake.take(heartbeat(3)));
  EXPECT_EQ(f.node.term(), raft::Term(3));
  EXPECT_EQ(f.node.leader(), raft::NodeId(2));
  EXPECT_EQ(refused_total(f.intake), 0u);
}

TEST(PeerIntake, AMessageInconsistentInItselfIsRefusedAndCounted) {
  Fixture f;
  raft::pb::Message for_another = heartbeat(3);
  for_another.set_to(3);
  EXPECT_FALSE(f.intake.take(for_another));
  EXPECT_EQ(f.intake.refused().at("invalid message"), 1u);
  EXPECT_EQ(f.node.term(), raft::Term(0)) << "the refused message must not reach the core";
}

TEST(PeerIntake, WhileTheDiskIsLowEntriesWaitButHeartbeatsStep) {
  Fixture f(/*reserve_bytes=*/uint64_t{1} << 62);
  ASSERT_TRUE(f.disk.low());
  EXPECT_FALSE(f.intake.take(append(3)));
  EXPECT_EQ(f.node.term(), raft::Term(0)) << "an append taken while the disk is low";
  EXPECT_EQ(refused_total(f.intake), 0u) << "left for the leader to resend, not bad input";
  EXPECT_TRUE(f.intake.take(heartbeat(3)));
  EXPECT_EQ(f.node.term(), raft::Term(3));
}

TEST(PeerIntake, WithRoomOnTheDiskEntriesAreTaken) {
  Fixture f;
  ASSERT_FALSE(f.disk.low());
  EXPECT_TRUE(f.intake.take(append(3)));
  EXPECT_EQ(f.node.term(), raft::Term(3));
}

}  // namespace
}  // namespace castor::kv
