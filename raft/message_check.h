// check_peer_message: the boundary between the Raft core and what its peers send.
//
// A peer's message is input, not an invariant: a bug in one node (or a corrupted frame that
// still parses) must not kill the node that receives it. This check reads one message, with
// no log state, and refuses what no correct Castor node sends. Node::step calls it first and
// ignores what it refuses, so CASTOR_ASSERT in the core guards only the core's own invariants.
//
// Contract:
//   - Pure: no state, no I/O, no clock; same arguments, same answer.
//   - OK means the core may act on the message: its type is known; it is addressed to `self`
//     from another voter in `voters`; it sets only the fields its type carries (a rejection's
//     details only with `reject`); its terms and indexes are below kCountLimit, so index + 1,
//     term + 1 and index + entries never wrap; its log_term is not above its term; an MSG_APP's
//     entries sit at index + 1, index + 2, ..., have known types, and terms that never
//     decrease and never pass the message's term (a conf entry holds a valid ConfState); an
//     MSG_APP_RESP's rejection hint is not above the rejected index; an MSG_SNAP chunk lies
//     inside the snapshot's data_bytes, with `done` on exactly the chunk that ends it, and the
//     snapshot's term is not above the message's and its configuration lists distinct,
//     non-zero voters, at least one.
//   - OK does not mean the message is true. A peer that lies consistently (a forged leader, a
//     made-up acknowledgement) needs log state or authentication to catch; peer authentication
//     is the transport's (TLS). A forged term just below kCountLimit, say, passes, and a node
//     that adopts it cannot be elected again (its next term is refused). Nor is a commit
//     index bounded: an MSG_APP's commit may pass its last entry (the leader holds more than
//     one batch carries; the follower takes min(leaderCommit, index of last new entry), paper
//     figure 2), and a heartbeat's may pass the follower's log (Follower::heartbeat).
//     The only stateless commit rule is that only MSG_APP and MSG_HEARTBEAT carry one.
//   - Never refuses a message a correct Castor node sends: tests collect every type the core
//     emits, and the simulator fails a run on any refusal.
//   - Otherwise kInvalidArgument, with a message "<field>: <why>" for the host to log and count.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/base/status.h"
#include "raft/raft.pb.h"
#include "raft/types.h"

namespace castor::raft {

// Terms and indexes count up by one from 0; no cluster reaches 2^63 by counting (a billion a
// second for 292 years), so a value at or above it is a corrupted field.
inline constexpr uint64_t kCountLimit = uint64_t{1} << 63;

Status check_peer_message(const pb::Message& m, NodeId self, const std::vector<NodeId>& voters);

}  // namespace castor::raft
