// PeerIntake: where a Raft message from a peer enters this node's core.
//   - While the disk is below its reserve (kv/server/disk_space.h), entries and snapshots are
//     not taken: not refused as bad input, just left for the leader to send again once space
//     is freed. Everything else (votes, heartbeats) still steps, so the node keeps its place.
//   - A message inconsistent in itself (raft/message_check.h) is refused by the core, counted
//     under "invalid message" and logged at a limited rate: a bug in one node must not stop the
//     others.
//   - A snapshot whose data fails its checksum is counted under "snapshot checksum" and logged
//     (the core refused it; the log is untouched).
//
// What it does NOT do: drive the core after a message (the server does when take() says so),
// or check who sent it (the transport's Hello did). Not thread-safe: the io thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "kv/server/disk_space.h"
#include "net/rate_limited_log.h"
#include "raft/node.h"

namespace castor::kv {

class PeerIntake {
 public:
  PeerIntake(raft::Node& node, const DiskSpace& disk) : node_(node), disk_(disk) {}

  // Steps `m` into the core; true when the core took it (and may have work for a drive).
  bool take(const raft::pb::Message& m);
  // Messages refused, by reason, for castor_rejected_total{listener="peer"}.
  const std::map<std::string, uint64_t>& refused() const { return refused_; }

 private:
  raft::Node& node_;
  const DiskSpace& disk_;
  std::map<std::string, uint64_t> refused_;
  net::RateLimitedLog refused_log_;
  net::RateLimitedLog disk_log_;
};

}  // namespace castor::kv
