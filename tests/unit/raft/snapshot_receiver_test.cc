// SnapshotReceiver: a follower assembling the leader's snapshot stream (paper 7). The whole
// protocol, leader and follower, is in snapshot_test.cc; these cases pin the receiver alone.
#include "raft/snapshot_receiver.h"

#include <gtest/gtest.h>

#include "raft/base/crc32c.h"

namespace castor::raft {
namespace {

pb::SnapshotMeta meta_of(const std::string& data, uint64_t index = 10) {
  pb::SnapshotMeta meta;
  meta.set_index(index);
  meta.set_term(2);
  meta.set_data_bytes(data.size());
  meta.set_data_crc32c(crc32c_extend(0, data));
  return meta;
}

TEST(SnapshotReceiver, Section7_ChunksInOrderYieldTheWholeSnapshotOnce) {
  SnapshotReceiver r;
  const pb::SnapshotMeta meta = meta_of("abcdef");
  auto first = r.receive(meta, 0, "ab");
  EXPECT_FALSE(first.reject);
  EXPECT_EQ(first.offset, 2u);
  EXPECT_FALSE(first.snapshot);
  EXPECT_EQ(r.receive(meta, 2, "cd").offset, 4u);
  // A duplicate of a chunk already held is acknowledged at what is held, not refused.
  auto dup = r.receive(meta, 2, "cd");
  EXPECT_FALSE(dup.reject);
  EXPECT_EQ(dup.offset, 4u);
  auto last = r.receive(meta, 4, "ef");
  ASSERT_TRUE(last.snapshot);
  EXPECT_EQ(last.snapshot->data(), "abcdef");
  EXPECT_EQ(last.snapshot->meta().index(), 10u);
  // It holds nothing afterwards: a later chunk of the same stream continues nothing.
  EXPECT_TRUE(r.receive(meta, 4, "ef").reject);
}

TEST(SnapshotReceiver, Section7_AChunkOfAStreamNotHeldIsRefused) {
  SnapshotReceiver r;
  EXPECT_TRUE(r.receive(meta_of("abcdef"), 3, "def").reject);
  r.receive(meta_of("abcdef"), 0, "abc");
  auto other = r.receive(meta_of("abcdef", 11), 3, "def");  // another snapshot's middle
  EXPECT_TRUE(other.reject);
  EXPECT_EQ(other.offset, 0u);
  EXPECT_TRUE(r.receive(meta_of("abcdef"), 3, "def").reject);  // the refusal dropped the stream
}

TEST(SnapshotReceiver, Section7_AStreamThatFailsItsChecksumIsRefusedAndCounted) {
  SnapshotReceiver r;
  const pb::SnapshotMeta meta = meta_of("abcdef");
  r.receive(meta, 0, "abc");
  auto bad = r.receive(meta, 3, "deX");
  EXPECT_TRUE(bad.reject);
  EXPECT_FALSE(bad.snapshot);
  EXPECT_EQ(r.refused(), 1u);
  // Sent again from the start, it is taken.
  r.receive(meta, 0, "abc");
  EXPECT_TRUE(r.receive(meta, 3, "def").snapshot);
  EXPECT_EQ(r.refused(), 1u);
}

}  // namespace
}  // namespace castor::raft
