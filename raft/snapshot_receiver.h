// SnapshotReceiver: a follower's half of the snapshot stream (paper 7). The leader sends its
// snapshot in chunks (MSG_SNAP), one in flight, each at the offset the follower last
// acknowledged; the receiver appends each chunk that continues the stream it holds, and once
// the stream is whole, checks it against the CRC-32C in its SnapshotMeta before handing it over.
//
// Contract: receive() takes every MSG_SNAP the follower accepts from its leader, in arrival
// order. Its answer is either the offset to acknowledge (and whether the chunk was refused, so
// that the leader restarts at offset 0), or the whole, checked snapshot, after which the receiver
// holds nothing. A stream whose bytes fail their checksum is dropped, counted in refused(), and
// refused, so the leader sends it again from the start.
//
// What it does NOT do: decide whether to install the snapshot or touch the log and the voters
// (Follower and Node do, since the log may already hold the snapshot's last entry), build or send
// the answer, or bound the snapshot's size: the stream is held in memory, as docs/DESIGN.md,
// "Protocol choices", says, and check_peer_message (message_check.h) has checked each chunk.
// Performs no I/O. Not thread-safe; owned by its node's Follower.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "raft/raft.pb.h"

namespace castor::raft {

class SnapshotReceiver {
 public:
  struct Received {
    // The chunk did not continue the stream held, or the stream failed its checks: the leader
    // must start over at offset 0.
    bool reject = false;
    // Bytes of the stream now held: the offset the leader sends next.
    uint64_t offset = 0;
    // Set (and the rest unused) once the stream is whole and its checksum matches.
    std::optional<pb::Snapshot> snapshot;
  };
  // One chunk: `chunk` at byte `offset` of the stream `meta` describes.
  Received receive(const pb::SnapshotMeta& meta, uint64_t offset, const std::string& chunk);

  // Streams received whole whose data failed its checksum.
  uint64_t refused() const { return refused_; }

 private:
  void drop();

  std::optional<pb::SnapshotMeta> meta_;
  std::string data_;
  uint64_t refused_ = 0;
};

}  // namespace castor::raft
